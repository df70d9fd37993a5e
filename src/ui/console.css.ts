// The console's one stylesheet, served by the Worker at /ui/assets/console.css (no CDN). Contrast ≥ 4.5:1 on every text colour.
export const CONSOLE_CSS = `
:root{--fg:#1b1f24;--muted:#4a5360;--bg:#fff;--panel:#f4f6f8;--line:#c9d0d8;--accent:#0b57d0;--ok:#0a6b2d;--warn:#8a4b00;--bad:#b00020;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
*{box-sizing:border-box}body{margin:0;color:var(--fg);background:var(--bg);line-height:1.45}
a{color:var(--accent)}a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,textarea:focus-visible,summary:focus-visible{outline:3px solid #f4b400;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:6px;z-index:9}
header{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center;justify-content:space-between;padding:10px 16px;background:#14213d;color:#fff}
header a{color:#fff;text-decoration:none;padding:4px 6px;border-radius:4px}header a[aria-current=page]{background:#fff;color:#14213d}
header nav ul{display:flex;flex-wrap:wrap;gap:4px 10px;list-style:none;margin:0;padding:0}.brand{font-weight:700}
main{max-width:1200px;margin:0 auto;padding:16px}h1{font-size:1.5rem;margin:.2em 0 .6em}h2{font-size:1.15rem;margin:1.4em 0 .5em}
form.filters{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-end;background:var(--panel);padding:12px;border-radius:6px}
label{display:flex;flex-direction:column;font-size:.9rem;gap:2px}label.inline{flex-direction:row;align-items:center;gap:6px}
input,select,textarea,button{font:inherit;padding:6px 8px;border:1px solid #6b7480;border-radius:4px;background:#fff;color:var(--fg)}
button{background:var(--accent);color:#fff;border-color:var(--accent);cursor:pointer}button.secondary{background:#fff;color:var(--accent)}
header button{background:transparent;border-color:#fff;color:#fff;padding:3px 8px}
.table-wrap{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.92rem}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--panel)}td.num{font-variant-numeric:tabular-nums}code,pre,textarea.code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem}
pre,textarea.code{background:var(--panel);padding:10px;border-radius:6px;overflow-x:auto;white-space:pre-wrap;width:100%}
.tag{display:inline-block;background:#e3ebf7;color:#123;border-radius:10px;padding:0 8px;margin:1px;font-size:.8rem}
.status-PRESENT,.ok{color:var(--ok);font-weight:600}.status-MISSING,.status-OUTSIDE_MAX_AGE,.warn{color:var(--warn);font-weight:600}.bad,.status-ERROR{color:var(--bad);font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:12px}.card{border:1px solid var(--line);border-radius:6px;padding:10px}
dl.props{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:0}dl.props dt{color:var(--muted);font-weight:600}dl.props dd{margin:0}
.notice{background:#fff7e0;border:1px solid #e0b44a;padding:8px 12px;border-radius:6px}.error{background:#fdecee;border:1px solid #d9818d;padding:8px 12px;border-radius:6px}
svg text{font-family:inherit}svg{max-width:100%;height:auto}.muted{color:var(--muted)}
@media (max-width:600px){main{padding:10px}th,td{padding:4px}header{padding:8px}}
`;
