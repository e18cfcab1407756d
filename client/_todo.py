"""The todo list as a department reads it: Chinese first, the most urgent first."""

from __future__ import annotations

from typing import Any

__all__ = ["print_todo"]

_ORDER = {"to_record": 0, "to_publish": 1, "to_inspect": 2, "done": 3}


def _limit(item: dict[str, Any]) -> str:
    status = item.get("status")
    unknown = "未知（缺少工作日历）/ unknown (no published calendar)"
    if status == "to_inspect":
        return (f"年底前须有检查结果 / an outcome by {item.get('outcome_by')}"
                if item.get("outcome_by") else "")
    if status == "to_record":
        return (f"结果录入期限 / result due ({item.get('record_days')} 个工作日 working days): "
                f"{item.get('record_by') or unknown}")
    if status == "to_publish":
        return (f"公示期限 / publication due ({item.get('publish_days')} 个工作日 working "
                f"days): {item.get('publish_by') or unknown}")
    return ""


def print_todo(todo: dict[str, Any], *, show_all: bool = False) -> None:
    """Print the ``drawledger/todo/v1`` object of ``GET /v1/departments/{code}/todo``."""
    counts = todo.get("counts", {})
    print(f"{todo.get('dept_name')}（{todo.get('dept')}）待办 / to do, "
          f"{todo.get('today')} (日志 {todo.get('size')} 条 / log of {todo.get('size')} entries)")
    print(f"待检查 to inspect {counts.get('to_inspect', 0)} · 待录入 to record "
          f"{counts.get('to_record', 0)} · 待公示 to publish {counts.get('to_publish', 0)} · "
          f"已公示 done {counts.get('done', 0)}")
    items = [i for i in todo.get("items", []) if isinstance(i, dict)
             and (show_all or i.get("status") != "done")]
    items.sort(key=lambda i: (not i.get("overdue"), _ORDER.get(str(i.get("status")), 9),
                              str(i.get("record_by") or i.get("publish_by") or "")))
    for item in items:
        late = "【已逾期 / OVERDUE】" if item.get("overdue") else ""
        where = (f"{item.get('plan_id')}/{item.get('batch_id')} ({item.get('draw_date')})"
                 if item.get("kind") == "random" else "定向 / targeted")
        print(f"- {late}{item.get('status_zh')} / {item.get('status')}: {item.get('uscc')} "
              f"{where}")
        if item.get("team"):
            print(f"    检查组 / team: {', '.join(item['team'])}")
        if item.get("ended_on"):
            print(f"    检查结束 / ended on {item.get('ended_on')}; 检查编号 / inspection id "
                  f"{item.get('inspection_id')}")
        limit = _limit(item)
        if limit:
            print(f"    {limit}")
    if not items:
        print("没有待办 / nothing to do")
