from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views
from .errors import not_found_view

# Each route accepts the path with or without its trailing slash, because
# API clients rarely follow redirects for POST requests. Ids may contain
# slashes (sent as %2F, which Django decodes before matching), so the id
# patterns match any non-empty text.
urlpatterns = [
    re_path(r"^items/?$", views.ItemBatchView.as_view(), name="items"),
    re_path(r"^users/?$", views.UserBatchView.as_view(), name="users"),
    re_path(r"^events/?$", views.EventBatchView.as_view(), name="events"),
    re_path(r"^users/(?P<user_id>.+)/recommendations/?$", views.RecommendationsView.as_view(), name="recommendations"),
    re_path(r"^items/(?P<item_id>.+)/similar/?$", views.SimilarItemsView.as_view(), name="similar-items"),
    re_path(r"^search/?$", views.SearchView.as_view(), name="search"),
    re_path(r"^runs/?$", views.RunListView.as_view(), name="runs"),
    re_path(r"^runs/(?P<run_id>[^/]+)/?$", views.RunDetailView.as_view(), name="run"),
    path("schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="schema", authentication_classes=[], permission_classes=[]),
        name="docs",
    ),
    re_path(r"^(?P<unmatched>.*)$", not_found_view),
]
