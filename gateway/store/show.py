"""`gateway consents show ID`: every record of one consent id, for a person to read."""

from __future__ import annotations

from gateway.store.decision import NO_SITE, Record


def render(consent_id: str, records: list[Record], texts: dict[str, dict[str, str]]) -> str:
    count = len(records)
    lines = [f"consent id {consent_id}: {count} record{'s' if count != 1 else ''} (times in UTC)"]
    for r in records:
        when = r.decided_at.strftime("%Y-%m-%d %H:%M:%S")
        region = r.region or "unknown"
        erased = f"(erased {r.erased_at:%Y-%m-%d %H:%M:%S})" if r.erased_at else None
        lines += [
            "",
            f"record {r.seq}  {when}  {r.action}",
            f"  site          {r.site or NO_SITE}",
            f"  allowed       {', '.join(r.categories) or '(none)'}",
            *([f"  vendors off   {', '.join(r.vendors_refused) or '(none)'}"] if r.vendors_refused is not None else []),
            f"  offered       {', '.join(r.offered) or '(none)'}",
            *([f"  vendors shown {', '.join(r.vendors_offered) or '(none)'}"] if r.vendors_offered is not None else []),
            f"  region        {region}, {r.rule.replace('_', '-')} rule; Global Privacy Control: {'yes' if r.gpc else 'no'}",
            f"  policy        version {r.policy_version}; container {r.container_version}",
            f"  language      {r.language}",
            f"  IP prefix     {erased or r.ip_prefix or '(unknown)'}",
            f"  user agent    {erased or r.user_agent or '(unknown)'}",
            f"  banner texts  {r.banner_texts_hash[:16]} (below)",
            f"  chain         previous {r.prev_hash[:16]}, this {r.record_hash[:16]}",
        ]
    for texts_hash in dict.fromkeys(r.banner_texts_hash for r in records):
        lines += ["", f"banner texts {texts_hash}:"]
        shown = texts.get(texts_hash)
        if shown is None:
            lines.append("  (missing: run `gateway consents verify`)")
            continue
        for key in sorted(shown):
            lines.append(f"  {key}: {shown[key]}")
    return "\n".join(lines)
