"""The registry's rules: who may do what, and what makes a cooperative, farmer or plot valid.

Services flush, never commit: the request's unit of work commits (shared/uow.py).
"""

from services.cooperatives.service.identity import (
    create_user,
    ensure_admin,
    issue_token,
    list_users,
    me,
    principal_of,
)
from services.cooperatives.service.maps import coarse_map
from services.cooperatives.service.registry import (
    MAX_IDS,
    MAX_LOOKUP_IDS,
    check_gs1,
    create_cooperative,
    create_farmer,
    create_plot,
    flush_unique,
    get_cooperative,
    get_farmer,
    get_plot,
    get_plot_origin,
    list_cooperatives,
    list_farmers,
    list_plots,
    lookup_plots,
    plot_read,
    region_code,
    search_text,
    update_cooperative,
)

__all__ = [
    "MAX_IDS",
    "MAX_LOOKUP_IDS",
    "check_gs1",
    "coarse_map",
    "create_cooperative",
    "create_farmer",
    "create_plot",
    "create_user",
    "ensure_admin",
    "flush_unique",
    "get_cooperative",
    "get_farmer",
    "get_plot",
    "get_plot_origin",
    "issue_token",
    "list_cooperatives",
    "list_farmers",
    "list_plots",
    "list_users",
    "lookup_plots",
    "me",
    "plot_read",
    "principal_of",
    "region_code",
    "search_text",
    "update_cooperative",
]
