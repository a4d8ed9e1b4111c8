# ruff: noqa: TID253  (a test app imports the web framework it is written in)
# mypy: disable-error-code="import-untyped,misc,untyped-decorator"
"""Views with every authentication marker the route inventory recognises."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import (
    login_not_required,
    login_required,
    permission_required,
    user_passes_test,
)
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.http import require_POST, require_safe
from rest_framework import viewsets
from rest_framework.decorators import action, api_view, permission_classes
from rest_framework.permissions import AllowAny, IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("home")


@require_safe
def about(request: HttpRequest) -> HttpResponse:
    return HttpResponse("about")


@require_POST
def contact(request: HttpRequest) -> HttpResponse:
    return HttpResponse("sent")


@login_not_required
@require_POST
def signup(request: HttpRequest) -> HttpResponse:
    return HttpResponse("welcome")


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    return HttpResponse("profile")


@permission_required("shop.change_item")
def edit_item(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse("edit")


def is_staff(user: Any) -> bool:
    return bool(user.is_staff)


@user_passes_test(is_staff)
def reports(request: HttpRequest) -> HttpResponse:
    return HttpResponse("reports")


def archive(request: HttpRequest, year: str) -> HttpResponse:
    return HttpResponse(year)


class Catalog(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("catalog")

    def post(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("added")


class OrdersPage(LoginRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("orders")

    def post(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("ordered")


@method_decorator(login_required, name="dispatch")
class SettingsPage(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("settings")

    def put(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("saved")


class Mixed(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("public")

    @method_decorator(permission_required("shop.add_item"))
    def post(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("added")


@method_decorator(user_passes_test(is_staff), name="dispatch")
class Ledger(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("ledger")


@method_decorator(staff_member_required, name="dispatch")
class Payroll(View):
    def post(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("paid")


class Stock(PermissionRequiredMixin, View):
    permission_required = "shop.view_stock"

    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("stock")


class Plain(View):
    def delete(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("gone")


login_wrapped_view = login_required(Plain.as_view())


class ItemsAPI(APIView):
    def get(self, request: Request) -> Response:
        return Response([])

    def post(self, request: Request) -> Response:
        return Response({})


class SecureAPI(APIView):
    permission_classes = [IsAuthenticated & ~IsAdminUser]  # noqa: RUF012

    def delete(self, request: Request) -> Response:
        return Response({})


@api_view(["POST"])
@permission_classes([AllowAny])
def hook(request: Request) -> Response:
    return Response({})


class DynamicAPI(APIView):
    def get_permissions(self) -> list[Any]:
        return [IsAuthenticated()]

    def post(self, request: Request) -> Response:
        return Response({})


class OrderViewSet(viewsets.ViewSet):
    permission_classes = [IsAuthenticated]  # noqa: RUF012

    def list(self, request: Request) -> Response:
        return Response([])

    def create(self, request: Request) -> Response:
        return Response({})

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        return Response({})

    @action(detail=True, methods=["post"], permission_classes=[AllowAny])
    def track(self, request: Request, pk: str | None = None) -> Response:
        return Response({})


class InvoiceViewSet(viewsets.ViewSet):
    def list(self, request: Request) -> Response:
        return Response([])

    def create(self, request: Request) -> Response:
        return Response({})
