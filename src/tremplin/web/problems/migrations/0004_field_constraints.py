"""Field constraints of problems and weights, enforced by the database too (issue 12, item 7).

Before the check constraints are added, stored values they would refuse are repaired (plain UPDATEs, so that
a value SQLite stored beyond the column's digits is never read): a negative or unrepresentable yearly cost
becomes unknown (NULL), a strategic fit is brought back into 0..4, a negative weight becomes 0.
"""

from decimal import Decimal

import django.core.validators
from django.conf import settings
from django.db import migrations, models


MAX_COST = Decimal("999999999999.99")  # max_digits=14, decimal_places=2


def repair(apps, schema_editor):
    Problem = apps.get_model("problems", "Problem")
    PriorityWeights = apps.get_model("problems", "PriorityWeights")
    Problem.objects.filter(models.Q(burden_cost_eur__lt=0) | models.Q(burden_cost_eur__gt=MAX_COST)).update(
        burden_cost_eur=None)
    Problem.objects.filter(strategic_fit__gt=4).update(strategic_fit=4)
    Problem.objects.filter(strategic_fit__lt=0).update(strategic_fit=0)
    for name in ("burden", "population", "endorsements", "strategic_fit"):
        PriorityWeights.objects.filter(**{f"{name}__lt": 0}).update(**{name: 0})
    if schema_editor.connection.vendor == "postgresql":
        # Fire the deferred foreign-key checks of these updates now: PostgreSQL refuses to ALTER a table with
        # pending trigger events, and the constraints are added next in the same transaction.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('problems', '0003_problem_fts'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='priorityweights',
            name='burden',
            field=models.DecimalField(decimal_places=2, default=1, max_digits=5, validators=[django.core.validators.MinValueValidator(0)], verbose_name='poids du fardeau (coût)'),
        ),
        migrations.AlterField(
            model_name='priorityweights',
            name='endorsements',
            field=models.DecimalField(decimal_places=2, default=1, max_digits=5, validators=[django.core.validators.MinValueValidator(0)], verbose_name='poids des appuis'),
        ),
        migrations.AlterField(
            model_name='priorityweights',
            name='population',
            field=models.DecimalField(decimal_places=2, default=1, max_digits=5, validators=[django.core.validators.MinValueValidator(0)], verbose_name='poids de la population concernée'),
        ),
        migrations.AlterField(
            model_name='priorityweights',
            name='strategic_fit',
            field=models.DecimalField(decimal_places=2, default=1, max_digits=5, validators=[django.core.validators.MinValueValidator(0)], verbose_name="poids de l'adéquation stratégique"),
        ),
        migrations.AlterField(
            model_name='problem',
            name='affected_population',
            field=models.PositiveIntegerField(blank=True, null=True, validators=[django.core.validators.MaxValueValidator(2147483647)], verbose_name='population concernée (estimation)'),
        ),
        migrations.AlterField(
            model_name='problem',
            name='burden_cost_eur',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True, validators=[django.core.validators.MinValueValidator(0)], verbose_name='coût estimé (€ par an)'),
        ),
        migrations.RunPython(repair, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='priorityweights',
            constraint=models.CheckConstraint(condition=models.Q(('burden__gte', 0), ('endorsements__gte', 0), ('population__gte', 0), ('strategic_fit__gte', 0)), name='problems_priorityweights_not_negative'),
        ),
        migrations.AddConstraint(
            model_name='problem',
            constraint=models.CheckConstraint(condition=models.Q(('burden_cost_eur__isnull', True), ('burden_cost_eur__gte', 0), _connector='OR'), name='problems_problem_burden_cost_not_negative'),
        ),
        migrations.AddConstraint(
            model_name='problem',
            constraint=models.CheckConstraint(condition=models.Q(('strategic_fit__gte', 0), ('strategic_fit__lte', 4)), name='problems_problem_strategic_fit_0_4'),
        ),
    ]
