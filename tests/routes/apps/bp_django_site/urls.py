# ruff: noqa: TID253  (a test app imports the web framework it is written in)
# mypy: disable-error-code="import-untyped,misc,untyped-decorator"
from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("orders", views.OrderViewSet, basename="order")
router.register("invoices", views.InvoiceViewSet, basename="invoice")

urlpatterns = [
    path("", views.home, name="home"),
    path("about/", views.about, name="about"),
    path("contact/", views.contact, name="contact"),
    path("signup/", views.signup, name="signup"),
    path("profile/", views.profile, name="profile"),
    path("items/<int:pk>/edit/", views.edit_item, name="edit-item"),
    path("reports/", views.reports, name="reports"),
    path("catalog/", views.Catalog.as_view(), name="catalog"),
    path("orders-page/", views.OrdersPage.as_view(), name="orders-page"),
    path("settings/", views.SettingsPage.as_view(), name="settings"),
    path("mixed/", views.Mixed.as_view(), name="mixed"),
    path("stock/", views.Stock.as_view(), name="stock"),
    path("ledger/", views.Ledger.as_view(), name="ledger"),
    path("payroll/", views.Payroll.as_view(), name="payroll"),
    path("wrapped/", views.login_wrapped_view, name="wrapped"),
    path("api/items/", views.ItemsAPI.as_view(), name="api-items"),
    path("api/secure/", views.SecureAPI.as_view(), name="api-secure"),
    path("api/hook/", views.hook, name="api-hook"),
    path("api/dynamic/", views.DynamicAPI.as_view(), name="api-dynamic"),
    path("api/", include(router.urls)),
    path("blog/", include("bp_django_site.blog_urls")),
    path("admin/", admin.site.urls),
]
