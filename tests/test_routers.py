"""Database routers: the models of one flow must be written to one database (E011)."""

from django.core import checks

from django_verified_email.checks import check_one_database_per_flow


class AuthElsewhere:
    """Sends auth's models to "other" and leaves the rest on the default database."""

    def db_for_write(self, model, **hints):
        return "other" if model._meta.app_label in ("auth", "testapp") else None

    db_for_read = db_for_write


class AllElsewhere:
    """Sends the users and this app's models (and every other model) to "other"."""

    def db_for_write(self, model, **hints):
        return "other"

    db_for_read = db_for_write


def errors():
    return [e for e in check_one_database_per_flow() if e.level >= checks.ERROR]


def test_a_router_splitting_the_users_from_the_apps_tables_is_an_error(settings):
    settings.DATABASE_ROUTERS = [f"{__name__}.AuthElsewhere"]
    [error] = errors()
    assert error.id == "verified_email.E011"
    assert "testapp.User -> 'other'" in error.msg
    assert "verified_email.EmailChange -> 'default'" in error.msg


def test_one_database_for_all_of_a_flows_models_is_fine(settings):
    assert errors() == []
    settings.DATABASE_ROUTERS = [f"{__name__}.AllElsewhere"]
    assert errors() == []


def test_database_sessions_count_when_they_are_the_session_store(settings):
    class SessionsElsewhere:
        def db_for_write(self, model, **hints):
            return "other" if model._meta.app_label == "sessions" else None

    settings.DATABASE_ROUTERS = [SessionsElsewhere()]
    [error] = errors()
    assert "sessions.Session -> 'other'" in error.msg
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    assert errors() == []
