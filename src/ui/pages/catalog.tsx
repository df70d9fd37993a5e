// Catalog: every feature of the current registry, searched (name, description, tags, owner) and filtered (entity type, group, computation type).

import type { FeatureDefinition } from "../../core/definitions";
import { ColumnHeads } from "../layout";

export interface CatalogQuery {
  q: string;
  entity_type: string;
  group: string;
  computation_type: string;
}

/** Every word of `q` must occur in the name, description, owner or a tag (case-insensitive). */
export function matchesCatalog(f: FeatureDefinition, query: CatalogQuery): boolean {
  const hay = [f.name, f.group, f.description, f.owner, ...f.tags].join(" ").toLowerCase();
  const words = query.q.toLowerCase().split(/\s+/).filter(Boolean);
  return (
    words.every((w) => hay.includes(w)) &&
    (!query.entity_type || f.entity_type === query.entity_type) &&
    (!query.group || f.group === query.group) &&
    (!query.computation_type || f.computation_type === query.computation_type)
  );
}

const distinct = (xs: string[]) => [...new Set(xs)].sort();

function Select(props: { name: string; label: string; value: string; options: string[] }) {
  return (
    <label>
      {props.label}
      <select name={props.name}>
        <option value="">any</option>
        {props.options.map((o) => (
          <option value={o} selected={o === props.value}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
}

export function CatalogPage(props: { version: string; all: readonly FeatureDefinition[]; query: CatalogQuery }) {
  const { all, query } = props;
  const shown = all.filter((f) => matchesCatalog(f, query));
  return (
    <>
      <h1>Feature catalog</h1>
      <p class="muted">
        Registry version <code>{props.version}</code>: {all.length} features, read live from the registry on every page load.
      </p>
      <form class="filters" method="get" action="/ui">
        <label>
          Search
          <input type="search" name="q" value={query.q} placeholder="name, description, tag, owner" maxlength={200} />
        </label>
        <Select name="entity_type" label="Entity type" value={query.entity_type} options={distinct(all.map((f) => f.entity_type))} />
        <Select name="group" label="Group" value={query.group} options={distinct(all.map((f) => f.group))} />
        <Select
          name="computation_type"
          label="Computation"
          value={query.computation_type}
          options={distinct(all.map((f) => f.computation_type))}
        />
        <button type="submit">Search</button>
      </form>
      <p aria-live="polite" data-testid="catalog-count">
        {shown.length} of {all.length} features
      </p>
      <div class="table-wrap">
        <table>
          <caption class="muted">Features matching the search</caption>
          <ColumnHeads names={["Feature", "Entity", "Type", "Computation", "Owner", "Tags", "Description"]} />
          <tbody>
            {shown.map((f) => (
              <tr>
                <td>
                  <a href={`/ui/features/${encodeURIComponent(f.name)}`}>{f.name}</a>
                  <div class="muted">{f.group}</div>
                </td>
                <td>{f.entity_type}</td>
                <td>{f.feature_type}</td>
                <td>{f.computation_type}</td>
                <td>{f.owner}</td>
                <td>
                  {f.tags.map((t) => (
                    <span class="tag">{t}</span>
                  ))}
                </td>
                <td>{f.description}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
