"""Workflow commands: an employee's hand-over on leaving, the summary report, overdue checkouts."""

from __future__ import annotations

import json

import click

from vault.errors import VaultError
from web.cli import main, open_vault, system_actor
from web.cli import user as user_group


@user_group.command("deactivate")
@click.argument("name")
@click.option("--handover-to", "handover_to", required=True, help="username who takes over the dossiers")
def user_deactivate(name: str, handover_to: str) -> None:
    """An employee leaves (员工调离交接): open checkouts closed, owned dossiers handed over, account off."""
    from vault.services.checkouts import deactivate_with_handover

    v = open_vault()
    actor = system_actor(v)
    try:
        with v.session() as s:
            result = deactivate_with_handover(v, s, actor, name, handover_to)
    except VaultError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"user {result['user']} deactivated; {len(result['checkouts_closed'])} checkout(s) closed; "
               f"{len(result['dossiers_moved'])} dossier(s) now owned by {result['handover_to']}; "
               f"{len(result['follow_ups_moved'])} follow-up(s) and complaint(s) handed over")
    for archive_no in result["dossiers_moved"]:
        click.echo(f"  {archive_no}")


@main.command("report")
@click.option("--json", "as_json", is_flag=True, help="print the whole report as JSON")
@click.option("--period", help="a periodic report (统计报表): a month like 2026-11 or a quarter like 2026-Q3")
@click.option("--format", "fmt", type=click.Choice(["pdf", "xlsx"]), default="pdf", show_default=True,
              help="with --period: the file's format")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="with --period: write the file here")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def report(as_json: bool, period: str | None, fmt: str, output: str | None, lang: str) -> None:
    """Summary: dossiers, documents, checkouts, overdue, retention due in 90 days, stale, incomplete.

    With --period: the monthly or quarterly report's figures, and its PDF or XLSX with --output."""
    from vault.services.reports import summary

    if period:
        _periodic_report(period, fmt, output, lang, as_json)
        return
    v = open_vault()
    actor = system_actor(v)
    with v.session() as s:
        data = summary(v, s, actor)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    d, docs, co = data["dossiers"], data["documents"], data["checkouts"]
    click.echo(f"Report at {data['generated_at']}")
    click.echo(f"Dossiers: {d['total']}  by grade {d['by_grade']}  by type {d['by_customer_type']}  "
               f"by status {d['by_status']}")
    click.echo(f"Documents: {docs['total']}  by type {docs['by_type']}")
    click.echo(f"Checkouts by status: {co['by_status']}")
    click.echo(f"Checkouts by month: {co['by_month']}")
    click.echo(f"Overdue checkouts: {len(data['overdue'])}")
    for c in data["overdue"]:
        click.echo(f"  #{c['checkout_id']} {c['archive_no']} {c['kind']} {c['requester']} due {c['due_at']}")
    click.echo(f"Retention due within 90 days: {len(data['retention_due_90_days'])}")
    for x in data["retention_due_90_days"]:
        hold = " [legal hold]" if x["under_hold"] else ""
        click.echo(f"  doc {x['document_id']} {x['archive_no']} {x['title']} due {x['due_on']}{hold}")
    click.echo(f"Stale credit reports: {len(data['stale_credit_reports'])}")
    click.echo(f"Incomplete dossiers: {len(data['incomplete_dossiers'])}")
    for x in data["incomplete_dossiers"]:
        fields = f"; card fields {', '.join(x['missing_fields'])}" if x.get("missing_fields") else ""
        click.echo(f"  {x['archive_no']} {x['customer_name']}: missing {', '.join(x['missing']) or '-'}{fields}")


def _periodic_report(period: str, fmt: str, output: str | None, lang: str, as_json: bool) -> None:
    """`dossier report --period`: print the figures; write the file when asked."""
    import io

    from vault.services import periodic_reports
    from vault.services.periodic_render import summary_rows

    v = open_vault()
    actor = system_actor(v)
    buf = io.BytesIO()
    try:
        with v.session() as s:
            periodic_reports.download(v, s, actor, period, "json", buf, lang)
            if output:
                out = io.BytesIO()
                periodic_reports.download(v, s, actor, period, fmt, out, lang)
    except VaultError as exc:
        raise click.ClickException(exc.message) from None
    data = json.loads(buf.getvalue())
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(f"Periodic report {data['period']} ({data['start']} .. {data['end']})")
        for label, value in summary_rows(data, lang):
            click.echo(f"  {label}: {value}")
    if output:
        with open(output, "wb") as fh:
            fh.write(out.getvalue())
        click.echo(f"wrote {output}", err=as_json)


@main.command("overdue")
def overdue() -> None:
    """Mark checkouts past their due date, notify requester and approver, list every overdue checkout."""
    from vault.services.checkouts import overdue_checkouts, run_overdue

    v = open_vault()
    newly, _ = run_overdue(v)
    with v.session() as s:
        rows = overdue_checkouts(v, s, system_actor(v))
        lines = [f"#{c.id} {c.dossier.archive_no} {c.kind.value} {c.requester.username} due "
                 f"{c.due_at.isoformat() if c.due_at else '?'}" for c in rows]
    click.echo(f"{len(newly)} newly overdue (notified); {len(lines)} overdue in all")
    for line in lines:
        click.echo(f"  {line}")


@main.command("erase-pending")
def erase_pending() -> None:
    """Retry deleting blobs of destroyed documents whose deletion failed (their keys are already erased)."""
    from vault.services.destruction import retry_blob_erasures

    v = open_vault()
    remaining = retry_blob_erasures(v)
    click.echo(f"{remaining} blob(s) still waiting for deletion")
    if remaining:
        raise SystemExit(1)
