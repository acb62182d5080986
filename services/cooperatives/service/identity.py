"""Identity: users, logins and the caller's principal."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.cooperatives import repository
from services.cooperatives.models import User
from services.cooperatives.schemas import (
    Me,
    Token,
    UserCreate,
    UserRead,
)
from services.cooperatives.service.registry import flush_unique
from shared.auth import Principal, Role, TokenIssuer, hash_password_async, verify_password_async
from shared.errors import Conflict, Unauthorized, ValidationFailed
from shared.ids import new_id
from shared.pagination import Page, PageParams, make_page

# identity


def principal_of(user: User) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        cooperative_id=user.cooperative_id,
        certifying_body_id=user.certifying_body_id,
        organization=user.organization,
    )


def me(principal: Principal) -> Me:
    return Me(
        id=principal.user_id,
        username=principal.username,
        role=principal.role,
        cooperative_id=principal.cooperative_id,
        certifying_body_id=principal.certifying_body_id,
        organization=principal.organization,
    )


async def issue_token(session: AsyncSession, issuer: TokenIssuer, *, username: str, password: str) -> Token:
    user = await repository.get_user_by_username(session, username.strip().lower())
    valid = await verify_password_async(password, user.password_hash if user else None)
    if not valid or user is None or not user.is_active:
        raise Unauthorized("Wrong username or password.", code="invalid_credentials")
    return Token(access_token=issuer.issue(principal_of(user)), expires_in=int(issuer.ttl.total_seconds()))


async def create_user(session: AsyncSession, *, data: UserCreate) -> UserRead:
    if data.role is Role.MANAGER:
        if not data.cooperative_id:
            raise ValidationFailed.single(
                "cooperative_id", "required_for_role", "A manager belongs to a cooperative."
            )
        if await repository.get_cooperative(session, data.cooperative_id) is None:
            raise ValidationFailed.single("cooperative_id", "unknown_cooperative", "No such cooperative.")
    elif data.cooperative_id:
        raise ValidationFailed.single(
            "cooperative_id", "not_for_role", "Only managers belong to a cooperative."
        )
    if data.role is Role.CERTIFIER and not data.certifying_body_id:
        raise ValidationFailed.single(
            "certifying_body_id", "required_for_role", "A certifier belongs to a certifying body."
        )
    if data.role is not Role.CERTIFIER and data.certifying_body_id:
        raise ValidationFailed.single(
            "certifying_body_id", "not_for_role", "Only certifiers belong to a certifying body."
        )
    if await repository.get_user_by_username(session, data.username) is not None:
        raise Conflict(f"The username '{data.username}' is taken.", code="username_taken")
    user = User(
        id=new_id("usr"),
        username=data.username,
        password_hash=await hash_password_async(data.password),
        role=data.role.value,
        cooperative_id=data.cooperative_id,
        certifying_body_id=data.certifying_body_id,
        organization=data.organization,
        is_active=True,
    )
    await flush_unique(session, user, "username_taken", f"The username '{data.username}' is taken.")
    return UserRead.model_validate(user)


async def ensure_admin(session: AsyncSession, *, username: str, password: str) -> bool:
    """Create the first admin from CHACRA_ADMIN_USERNAME/PASSWORD; never touches an existing one."""
    if await repository.any_admin(session):
        return False
    await create_user(session, data=UserCreate(username=username, password=password, role=Role.ADMIN))
    return True


async def list_users(session: AsyncSession, *, page: PageParams) -> Page[UserRead]:
    rows, cursor = make_page(await repository.list_users(session, page), page, lambda u: (u.created_at, u.id))
    return Page[UserRead](items=[UserRead.model_validate(u) for u in rows], next=cursor)
