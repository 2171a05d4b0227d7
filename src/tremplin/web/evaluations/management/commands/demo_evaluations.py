from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Generate the demo region (planted −12 % effect), register it as a validated dataset, link it."

    def handle(self, *args, **options):
        from tremplin.web.evaluations.demo import demo_dataset

        demo_dataset(stdout=self.stdout)
