// The console's page frame: navigation, sign-out form, skip link; every page renders inside it.
import type { Child } from "hono/jsx";
import type { Session } from "./session";

export type Section = "catalog" | "entities" | "operations" | "recommend" | "sign-in" | "feature";

const NAV: { section: Section; href: string; label: string; admin?: boolean }[] = [
  { section: "catalog", href: "/ui", label: "Catalog" },
  { section: "entities", href: "/ui/entities", label: "Entity lookup" },
  { section: "operations", href: "/ui/operations", label: "Operations" },
  { section: "recommend", href: "/ui/recommend", label: "Recommend", admin: true },
];

export function Layout(props: { title: string; session?: Session; section: Section; children?: Child }) {
  const { session } = props;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · EchoTune Feature Store`}</title>
        <link rel="stylesheet" href="/ui/assets/console.css" />
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header>
          <span class="brand">EchoTune Feature Store</span>
          {session && (
            <nav aria-label="Console">
              <ul>
                {NAV.filter((n) => !n.admin || session.admin).map((n) => (
                  <li>
                    <a href={n.href} aria-current={n.section === props.section ? "page" : undefined}>
                      {n.label}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
          )}
          {session && (
            <form method="post" action="/ui/logout">
              <input type="hidden" name="_csrf" value={session.csrf} />
              <span class="scopes">{[...session.scopes].join(" + ")}</span> <button type="submit">Sign out</button>
            </form>
          )}
        </header>
        <main id="main">{props.children}</main>
      </body>
    </html>
  );
}

/** An error answer of a route the page called, shown where its data would be. */
/** A table's header row: every column a `th scope="col"` (screen readers announce it per cell). */
export function ColumnHeads(props: { names: readonly string[] }) {
  return (
    <thead>
      <tr>
        {props.names.map((name) => (
          <th scope="col">{name}</th>
        ))}
      </tr>
    </thead>
  );
}

export function ApiError(props: { what: string; status: number; message: string }) {
  return (
    <p class="error" role="alert">
      {props.what}: {props.message} (HTTP {props.status})
    </p>
  );
}
