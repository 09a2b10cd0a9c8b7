"""locust user for bench_load.py: recommendation requests for random users, with no wait between them.

bench_load.py passes BENCH_API_KEY (a tenant API key), BENCH_USERS_FILE (a JSON
list of user ids with a history) and BENCH_N (items per list).
"""

import json
import os
import random

from locust import FastHttpUser, task

USERS = json.loads(open(os.environ["BENCH_USERS_FILE"]).read())
HEADERS = {"Authorization": f"Bearer {os.environ['BENCH_API_KEY']}"}
N = int(os.environ.get("BENCH_N", "10"))


class RecommendationUser(FastHttpUser):
    # No wait time: each locust user sends its next request as soon as the last one returns.

    @task
    def recommend(self) -> None:
        user_id = random.choice(USERS)
        with self.client.get(
            f"/api/v1/users/{user_id}/recommendations/?n={N}",
            headers=HEADERS,
            name="/api/v1/users/<id>/recommendations/",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
            elif response.json()["fell_back"]:
                response.failure("the list came from the fallback scorer")
