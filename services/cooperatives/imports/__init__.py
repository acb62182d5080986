"""CSV imports of cooperatives and of farmers with their plots (API.md, Registry).

Streamed row by row from a binary file (an upload is spooled to disk), validated with the same rules
as the single-object endpoints, written in multi-row INSERT batches, all or nothing: one bad row
and the request's transaction is rolled back. Every bad row is reported with line, column and rule.
"""

from services.cooperatives.imports.cooperatives import import_cooperatives
from services.cooperatives.imports.farmers import import_farmers
from services.cooperatives.imports.rows import ImportFailed

__all__ = ["ImportFailed", "import_cooperatives", "import_farmers"]
