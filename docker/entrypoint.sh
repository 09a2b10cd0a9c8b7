#!/bin/sh
# Start one semrec role: wait for the database, apply migrations once (an
# advisory lock keeps replicas that start together from racing), then run it.
#
#   entrypoint.sh web|worker|worker-gpu|beat [extra arguments for gunicorn or celery]
#   entrypoint.sh manage COMMAND [arguments]   (any manage.py command, no start-up steps)
#
# Environment: SEMREC_MIGRATE=0 skips migrating (the role still waits for the
# database); SEMREC_DB_WAIT_SECONDS (60) and SEMREC_MIGRATE_LOCK_SECONDS (600)
# bound the waits; the roles' own variables are listed below.
set -eu

manage() {
    python "$root/manage.py" "$@"
}

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
role=${1:-web}
[ $# -gt 0 ] && shift

case "$role" in
    web | worker | worker-gpu | beat) ;;
    manage) exec python "$root/manage.py" "$@" ;;
    *)
        echo "entrypoint.sh: unknown role '$role'. Use one of: web, worker, worker-gpu, beat, manage." >&2
        exit 64
        ;;
esac

# Prometheus samples of this container's processes (gunicorn workers, Celery
# pool processes) are shared through files in this folder. Files left by an
# earlier run of the container would add old counts, so it starts empty.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete
fi

if [ "${SEMREC_MIGRATE:-1}" = "0" ]; then
    manage semrec_wait_db --timeout "${SEMREC_DB_WAIT_SECONDS:-60}"
else
    manage semrec_migrate --wait "${SEMREC_DB_WAIT_SECONDS:-60}" --lock-timeout "${SEMREC_MIGRATE_LOCK_SECONDS:-600}"
fi

loglevel=${SEMREC_LOG_LEVEL:-INFO}
case "$role" in
    web)
        exec gunicorn semrec.wsgi:application --config "$here/gunicorn.conf.py" --chdir "$root" "$@"
        ;;
    worker)
        exec celery --workdir "$root" -A semrec worker --hostname "worker@%h" \
            --queues "${SEMREC_WORKER_QUEUES:-celery}" \
            --concurrency "${SEMREC_WORKER_CONCURRENCY:-2}" --loglevel "$loglevel" "$@"
        ;;
    worker-gpu)
        # One task at a time by default, because each pool process loads its
        # own copy of the model onto the GPU.
        exec celery --workdir "$root" -A semrec worker --hostname "gpu@%h" \
            --queues "${SEMREC_GPU_WORKER_QUEUES:-gpu,celery}" \
            --concurrency "${SEMREC_GPU_WORKER_CONCURRENCY:-1}" --loglevel "$loglevel" "$@"
        ;;
    beat)
        exec celery --workdir "$root" -A semrec beat \
            --schedule "${SEMREC_STATE_DIR:-$root/.semrec}/celerybeat-schedule" --loglevel "$loglevel" "$@"
        ;;
esac
