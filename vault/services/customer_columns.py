"""The columns of the customer spreadsheet (客户一览表 plus the card's fields), shared by import and export.

One table: the key, its Chinese and English headings; an import accepts either heading or the key itself
(case, spaces and underscores ignored), an export writes the heading of the reader's language.
"""

from __future__ import annotations

from vault.services.exports import Column

COLUMNS: tuple[Column, ...] = (
    Column("archive_no", "档案号", "Archive no"),
    Column("customer_name", "客户名称", "Customer"),
    Column("customer_kind", "客户类别", "Customer kind"),
    Column("credit_code", "统一社会信用代码", "Credit code"),
    Column("id_number", "身份证号码", "ID number"),
    Column("industry", "行业", "Industry"),
    Column("region", "地区", "Region"),
    Column("owner", "负责人", "Owner"),
    Column("backup_owner", "备份负责人", "Backup owner"),
    Column("grade", "等级", "Grade"),
    Column("relationship", "类型", "Type"),
    Column("partner_kind", "合作伙伴类别", "Partner kind"),
    Column("stage", "客户阶段", "Stage"),
    Column("gender", "性别", "Gender"),
    Column("address", "地址", "Address"),
    Column("former_names", "曾用名", "Former names"),
    Column("legal_representative", "法定代表人", "Legal representative"),
    Column("registered_address", "注册地址", "Registered address"),
    Column("business_address", "经营地址", "Business address"),
    Column("registered_capital", "注册资本", "Registered capital"),
    Column("currency", "币种", "Currency"),
    Column("founded_on", "成立日期", "Founded on"),
    Column("business_scope", "经营范围", "Business scope"),
    Column("main_products", "主要产品", "Main products"),
    Column("staff_size", "员工人数", "Staff size"),
    Column("website", "网址", "Website"),
    Column("phone", "电话", "Phone"),
    Column("email", "电子邮箱", "E-mail"),
    Column("bank_name", "开户银行", "Bank"),
    Column("bank_account", "银行账号", "Bank account"),
    Column("total_assets", "资产总额", "Total assets"),
    Column("annual_income", "年收入", "Annual income"),
    Column("total_debts", "负债总额", "Total debts"),
    Column("credit_rating", "信用等级", "Credit rating"),
    Column("credit_rating_source", "信用评级机构", "Credit rating source"),
    Column("credit_rating_on", "评级日期", "Credit rating date"),
)
#: the ledger's columns an import reads past (they are the archive's, not the customer's)
IGNORED = ("no", "initials", "status", "updated_at", "序号", "拼音首字母", "状态", "最后更新", "archive_no")
_EXTRA_HEADINGS = {"customer_type": "relationship", "序号": "no", "拼音首字母": "initials", "状态": "status",
                   "最后更新": "updated_at", "no.": "no", "last update": "updated_at", "客户性质": "customer_kind",
                   "kind": "customer_kind", "名称": "customer_name", "name": "customer_name",
                   "统一信用代码": "credit_code", "身份证号": "id_number", "手机": "phone", "邮箱": "email"}


def _norm(text: str) -> str:
    return "".join(text.lower().replace("_", " ").split())


HEADINGS: dict[str, str] = {}
for _c in COLUMNS:
    for _h in (_c.key, _c.zh, _c.en):
        HEADINGS[_norm(_h)] = _c.key
for _h, _k in _EXTRA_HEADINGS.items():
    HEADINGS[_norm(_h)] = _k


def column_of(heading: str) -> str | None:
    """The column key a heading names (Chinese, English or the key), None for an unknown heading."""
    return HEADINGS.get(_norm(heading))


#: the contacts sheet (联系人): the customer named by its credit code or ID number, then the contact
CONTACT_COLUMNS: tuple[Column, ...] = (
    Column("archive_no", "档案号", "Archive no"),
    Column("customer_name", "客户名称", "Customer"),
    Column("credit_code", "统一社会信用代码", "Credit code"),
    Column("id_number", "身份证号码", "ID number"),
    Column("name", "联系人", "Contact"),
    Column("position", "职务", "Position"),
    Column("department", "部门", "Department"),
    Column("phone", "联系电话", "Phone"),
    Column("email", "电子邮箱", "E-mail"),
    Column("decision_role", "决策角色", "Decision role"),
    Column("primary", "主要联系人", "Primary"),
    Column("since", "起始日期", "Since"),
    Column("left_on", "离职日期", "Left on"),
)
#: the records sheet (往来记录)
RECORD_COLUMNS: tuple[Column, ...] = (
    Column("archive_no", "档案号", "Archive no"),
    Column("customer_name", "客户名称", "Customer"),
    Column("credit_code", "统一社会信用代码", "Credit code"),
    Column("id_number", "身份证号码", "ID number"),
    Column("kind", "记录类型", "Record kind"),
    Column("occurred_at", "发生时间", "Occurred at"),
    Column("channel", "渠道", "Channel"),
    Column("staff", "经办人", "Staff"),
    Column("summary", "摘要", "Summary"),
    Column("details", "详情", "Details"),
    Column("outcome", "结果", "Outcome"),
    Column("next_action", "下一步", "Next action"),
    Column("next_action_due", "下一步期限", "Next action due"),
    Column("assignee", "跟进人", "Assignee"),
    Column("handler", "处理人", "Handler"),
    Column("deadline", "处理期限", "Deadline"),
    Column("amount", "金额", "Amount"),
    Column("currency", "币种", "Currency"),
    Column("item", "交易内容", "Item"),
    Column("payment_terms", "付款条件", "Payment terms"),
)
#: what the contacts' and records' imports read past
SHEET_IGNORED = ("archive_no", "customer_name", "no", "序号")


def headings_of(columns: tuple[Column, ...]) -> dict[str, str]:
    """Heading (Chinese, English or key, normalised) -> column key, for one sheet's columns."""
    out = {_norm(h): c.key for c in columns for h in (c.key, c.zh, c.en)}
    out.update({_norm("序号"): "no", _norm("no."): "no", _norm("统一信用代码"): "credit_code",
                _norm("身份证号"): "id_number", _norm("名称"): "customer_name"})
    return out
