from __future__ import annotations

from b24sync.planning.model import Batch, Command, Link, PipelineInfo, Plan
from b24sync.planning.text import render_plan_text, show_params


def command(
    key: str, params: dict[str, object], links: tuple[Link, ...] = (), instance: str | None = None
) -> Command:
    return Command(key=key, step=key.split("_")[0], instance=instance, method="crm.item.add", params=params,
                   query="", links=links)  # fmt: skip


LINK = Link(marker="$result[company][item][id]", target="company", path=("item", "id"), resolution="server",
            reason="same batch")  # fmt: skip


def test_params_are_shown_decoded_with_links_and_secrets_for_people() -> None:
    shown = show_params(
        command(
            "contact_ann",
            {
                "fields": {"name": "Ann Lee", "companyId": "$result[company][item][id]", "plain": "x"},
                "select": ["id", "title"],
                "auth_note": "Bearer $secret[TOKEN]",
                "empty": [],
                "none": None,
                "flag": True,
                "note": "Company $result[company][item][id] done",
            },
            (LINK,),
        ),
        {"company": "company"},
    )
    assert shown == (
        'fields[name]="Ann Lee" fields[companyId]=(known after apply: company.item.id) fields[plain]=x '
        'select[0]=id select[1]=title auth_note="Bearer ***" empty=[] none=null flag=true '
        'note="Company (known after apply: company.item.id) done"'
    )


def test_a_longer_marker_of_the_same_target_is_shown_whole() -> None:
    deep = Link(marker="$result[list][items][0][id]", target="list", path=("items", 0, "id"), resolution="server",
                reason="r")  # fmt: skip
    whole = Link(marker="$result[list]", target="list", path=(), resolution="server", reason="r")
    shown = show_params(command("x", {"a": "$result[list][items][0][id]", "b": "$result[list]"}, (whole, deep)),
                        {"list": "list"})  # fmt: skip
    assert shown == "a=(known after apply: list.items[0].id) b=(known after apply: list)"


def test_the_plan_text_has_a_block_per_batch_and_a_summary() -> None:
    client = LINK.model_copy(update={"resolution": "client"})
    plan = Plan(
        pipeline=PipelineInfo(path="p.yaml", sha256="0" * 64),
        batches=(
            Batch(index=0, halt=False, commands=(command("company", {"t": "A"}),)),
            Batch(index=1, halt=True, commands=(
                command("contact_ann", {"c": "$result[company][item][id]-x"}, (client,), instance="ann"),
            )),
        ),
    )  # fmt: skip
    assert render_plan_text(plan) == (
        "batch 0 (1 command)\n"
        "  company  company  crm.item.add  t=A\n"
        "batch 1 (1 command, halt)\n"
        "  contact_ann  contact[ann]  crm.item.add  c=(known after apply: company.item.id)-x\n"
        "2 commands in 2 batches (0 links resolved by the portal, 1 by b24sync)\n"
    )
