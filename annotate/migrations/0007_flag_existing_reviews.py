"""Flag the reviews stored before the consistency checks existed (intake flags the ones that come after)."""

from django.db import migrations

from annotate.consistency import ReviewFacts, review_flags


def flag_existing(apps, schema_editor):  # type: ignore[no-untyped-def]
    annotation_model = apps.get_model("annotate", "Annotation")
    flag_model = apps.get_model("annotate", "ReviewFlag")
    rows = annotation_model.objects.filter(deleted=False).exclude(verdict="")
    flags = []
    for pk, verdict, corrected, comment, level, labels, status, machine_level in rows.values_list(
        "pk",
        "verdict",
        "corrected_labels",
        "comment",
        "subjectivity_level",
        "extraction__labels",
        "extraction__status",
        "extraction__level",
    ).iterator():
        facts = ReviewFacts(
            verdict=verdict,
            corrected_labels=corrected,
            comment=comment,
            machine_labels=labels or [],
            output_status=status,
            machine_level=machine_level,
            reviewer_level=level,
        )
        flags += [flag_model(annotation_id=pk, rule=f.rule, reason=f.reason[:300]) for f in review_flags(facts)]
    flag_model.objects.bulk_create(flags, batch_size=2000, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("annotate", "0006_review_flags_adjudication"),
        ("extraction", "0002_run_batches_levels"),
    ]

    operations = [migrations.RunPython(flag_existing, migrations.RunPython.noop)]
