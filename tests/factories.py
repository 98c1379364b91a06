import factory
from django.contrib.auth.models import Group

from oligami_site.models import Membership, Site, User

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    preferred_language = "en"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"S{n:03d}")
    name_en = factory.LazyAttribute(lambda s: f"{s.code} Hospital")
    name_ja = factory.LazyAttribute(lambda s: f"{s.code}病院")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    site = factory.SubFactory(SiteFactory)
    role = Membership.Role.COORDINATOR


def trial_role_user(group_name, **kwargs):
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name=group_name))
    return user
