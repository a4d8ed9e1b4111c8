"""Security headers: Helmet 8.3's behaviour, in Python, computed and validated once.

>>> from bulletproof.headers import secure_headers
>>> policy = secure_headers()
>>> policy.headers[1]
('Cross-Origin-Opener-Policy', 'same-origin')
>>> secure_headers(preset="strict", content_security_policy={"directives": {
...     "script-src": ["'self'", "{nonce}"]}}).uses_nonce
True

:func:`secure_headers` is Helmet's ``helmet()`` (options in snake_case); the functions named
after one header (:func:`strict_transport_security`, ...) are Helmet's standalone middlewares.
Each header's module (``bulletproof.headers._strict_transport_security``, ...) holds its options
class and a pure ``header_value()``; import names from it with ``from ... import``.

Pure: this package imports no web framework (the adapters in :mod:`bulletproof.adapters` do).

Added in 0.1.
"""

from __future__ import annotations

from bulletproof.headers._common import HeadersWarning
from bulletproof.headers._context import HeaderContext, HeaderRenderError, new_nonce
from bulletproof.headers._cross_origin_embedder_policy import CrossOriginEmbedderPolicyOptions
from bulletproof.headers._cross_origin_opener_policy import CrossOriginOpenerPolicyOptions
from bulletproof.headers._cross_origin_resource_policy import CrossOriginResourcePolicyOptions
from bulletproof.headers._csp import (
    DANGEROUSLY_DISABLE_DEFAULT_SRC,
    ContentSecurityPolicyOptions,
    get_default_directives,
)
from bulletproof.headers._permissions import PermissionsPolicyOptions
from bulletproof.headers._policy import (
    HeaderEntry,
    HeaderPolicy,
    content_security_policy,
    cross_origin_embedder_policy,
    cross_origin_opener_policy,
    cross_origin_resource_policy,
    origin_agent_cluster,
    permissions_policy,
    referrer_policy,
    secure_headers,
    strict_transport_security,
    x_content_type_options,
    x_dns_prefetch_control,
    x_download_options,
    x_frame_options,
    x_permitted_cross_domain_policies,
    x_powered_by,
    x_xss_protection,
)
from bulletproof.headers._presets import Preset
from bulletproof.headers._referrer_policy import ReferrerPolicyOptions
from bulletproof.headers._strict_transport_security import StrictTransportSecurityOptions
from bulletproof.headers._x_dns_prefetch_control import XDnsPrefetchControlOptions
from bulletproof.headers._x_frame_options import XFrameOptionsOptions
from bulletproof.headers._x_permitted_cross_domain_policies import (
    XPermittedCrossDomainPoliciesOptions,
)

__all__ = [
    "DANGEROUSLY_DISABLE_DEFAULT_SRC",
    "ContentSecurityPolicyOptions",
    "CrossOriginEmbedderPolicyOptions",
    "CrossOriginOpenerPolicyOptions",
    "CrossOriginResourcePolicyOptions",
    "HeaderContext",
    "HeaderEntry",
    "HeaderPolicy",
    "HeaderRenderError",
    "HeadersWarning",
    "PermissionsPolicyOptions",
    "Preset",
    "ReferrerPolicyOptions",
    "StrictTransportSecurityOptions",
    "XDnsPrefetchControlOptions",
    "XFrameOptionsOptions",
    "XPermittedCrossDomainPoliciesOptions",
    "content_security_policy",
    "cross_origin_embedder_policy",
    "cross_origin_opener_policy",
    "cross_origin_resource_policy",
    "get_default_directives",
    "new_nonce",
    "origin_agent_cluster",
    "permissions_policy",
    "referrer_policy",
    "secure_headers",
    "strict_transport_security",
    "x_content_type_options",
    "x_dns_prefetch_control",
    "x_download_options",
    "x_frame_options",
    "x_permitted_cross_domain_policies",
    "x_powered_by",
    "x_xss_protection",
]
