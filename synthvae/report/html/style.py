"""The page's one stylesheet, inlined into its <style>: the Content-Security-Policy allows
inline style and nothing fetched."""

CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
 margin:0;color:#1f2328;background:#f6f8fa}
header{background:#fff;border-bottom:1px solid #d0d7de;padding:12px 24px;
 position:sticky;top:0;z-index:2}
h1{font-size:20px;margin:0 0 4px}
h2{font-size:18px;margin:0 0 10px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:14px;margin:16px 0 6px}
header p{margin:0 0 6px;color:#57606a}
nav a{margin-right:16px;color:#0969da;text-decoration:none}
section{background:#fff;margin:16px 24px;padding:16px 20px;border:1px solid #d0d7de;
 border-radius:6px}
a{color:#0969da}
.key{margin-left:10px;white-space:nowrap}
.key i{display:inline-block;width:10px;height:10px;margin-right:4px}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:12px}
.tile{border:1px solid #d0d7de;border-radius:6px;padding:10px 12px}
.tile .label{color:#57606a;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.tile .value{font-size:28px;font-weight:600}.na{color:#8c959f}
.tile .detail{color:#57606a;font-size:12px}
.meter{height:6px;background:#eaeef2;border-radius:3px;overflow:hidden;margin:2px 0 4px}
.meter span{display:block;height:100%}
.verdict{border-left:4px solid;padding:4px 10px;font-size:16px;background:#f6f8fa}
table{border-collapse:collapse;font-size:13px;margin:4px 0}
th,td{border-bottom:1px solid #eaeef2;padding:3px 8px;text-align:left;vertical-align:top}
table.kv th{color:#57606a;font-weight:500;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td{overflow-wrap:anywhere}
pre{margin:0;font-size:12px;max-height:240px;overflow:auto;white-space:pre-wrap}
.muted{color:#8c959f}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(310px,1fr));gap:10px}
.card{border:1px solid #d0d7de;border-radius:6px;padding:8px;min-width:0}
.card .head{display:flex;align-items:center;gap:6px;margin-bottom:4px}
.card h3{margin:0;font-size:13px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;flex:1}
.kind{font-size:11px;color:#57606a;background:#eaeef2;border-radius:8px;padding:0 6px}
.badge{font-size:11px;color:#fff;border-radius:8px;padding:0 6px}
.badge.light{background:#eaeef2;color:#1f2328}
.card svg{width:100%;height:auto;display:block}
.notes{margin:4px 0 0;padding-left:16px;font-size:12px;color:#57606a}
svg text{font-family:inherit;fill:#1f2328}
svg .tick{font-size:9px;fill:#57606a}svg .cat{font-size:10px}svg .it{font-style:italic}
svg .axis{stroke:#8c959f;stroke-width:1}
.wide{overflow-x:auto}
section,.card{scroll-margin-top:96px}
details{margin:6px 0}summary{cursor:pointer;font-weight:600;font-size:14px}
details[open] summary{margin-bottom:4px}
.tbar{display:inline-block;height:8px;background:#8c959f}
@media print{header{position:static}section{break-inside:avoid}}
"""
