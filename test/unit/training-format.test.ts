// Training-set file formats: RFC 4180 CSV both ways, JSONL, spine parsing and its error messages.
import { describe, expect, it } from "vitest";
import { FeatureStoreError } from "../../src/core/errors";
import {
  datasetFormatOf,
  decodeCsvCell,
  encodeCsvRecord,
  encodeCsvValue,
  encodeHeader,
  encodeRows,
  parseCsv,
  parseEventTimestamp,
  parseSpineCsv,
  parseSpineJsonl,
} from "../../src/training";
import { rowContext } from "../../src/training/spine";

const messageOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FeatureStoreError);
    return (err as Error).message;
  }
  throw new Error("expected an error");
};

describe("CSV (RFC 4180)", () => {
  it('quotes only what needs it and doubles inner quotes; null is an empty field, the empty string is ""', () => {
    expect(encodeCsvRecord(["plain", "a,b", 'say "hi"', "two\nlines", "cr\rhere", "", null, undefined])).toBe(
      'plain,"a,b","say ""hi""","two\nlines","cr\rhere","",,\r\n',
    );
  });

  it("writes numbers, booleans, dates, arrays and objects (the latter as JSON in one cell)", () => {
    expect(encodeCsvValue(0.25)).toBe("0.25");
    expect(encodeCsvValue(false)).toBe("false");
    expect(encodeCsvValue(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)))).toBe("2024-01-02T03:04:05.006Z");
    expect(encodeCsvValue(["pop", "rock"])).toBe('"[""pop"",""rock""]"');
    expect(encodeCsvValue({ a: 1 })).toBe('"{""a"":1}"');
  });

  it("parses what it writes, including quotes, commas and line breaks inside fields, CRLF or LF", () => {
    const rows = [
      ["id", "note", "tags"],
      ["1", 'he said "no", then left', '["a","b"]'],
      ["2", "line one\r\nline two", ""],
    ];
    const text = rows.map((r) => encodeCsvRecord(r)).join("");
    expect(parseCsv(text)).toEqual(rows);
    expect(parseCsv("a,b\nc,d")).toEqual([
      ["a", "b"],
      ["c", "d"],
    ]);
    expect(parseCsv("\ufeffa,b\r\n\r\nc,\r\n")).toEqual([
      ["a", "b"],
      ["c", ""],
    ]);
  });

  it("reports malformed CSV with its line", () => {
    expect(messageOf(() => parseCsv('a,b\n"open,x\n'))).toBe("CSV line 2: a quoted field is never closed");
    expect(messageOf(() => parseCsv('a,b\n"x"y,z\n'))).toBe("CSV line 2: text after a closing quote");
    expect(messageOf(() => parseCsv('a,b\nx"y,z\n'))).toMatch(/^CSV line 2: a quote inside an unquoted field/);
  });

  it("decodes cells for transform context: canonical numbers, booleans, JSON; ids like 007 stay text", () => {
    expect(decodeCsvCell("120")).toBe(120);
    expect(decodeCsvCell("-2.5")).toBe(-2.5);
    expect(decodeCsvCell("007")).toBe("007");
    expect(decodeCsvCell("1e3")).toBe("1e3");
    expect(decodeCsvCell("true")).toBe(true);
    expect(decodeCsvCell('[{"valence":0.9,"energy":0.8}]')).toEqual([{ valence: 0.9, energy: 0.8 }]);
    expect(decodeCsvCell("[not json")).toBe("[not json");
    expect(decodeCsvCell("")).toBeUndefined();
  });
});

describe("event timestamps", () => {
  it("accepts ISO 8601 (zone optional, UTC by default) and epoch milliseconds", () => {
    const ms = Date.UTC(2024, 5, 2, 7, 30, 15, 250);
    expect(parseEventTimestamp("2024-06-02T07:30:15.250Z")).toBe(ms);
    expect(parseEventTimestamp("2024-06-02 07:30:15.250")).toBe(ms);
    expect(parseEventTimestamp("2024-06-02T09:30:15.250+02:00")).toBe(ms);
    expect(parseEventTimestamp("2024-06-02T09:30:15.250123+0200")).toBe(ms);
    expect(parseEventTimestamp("2024-06-02")).toBe(Date.UTC(2024, 5, 2));
    expect(parseEventTimestamp(ms)).toBe(ms);
    expect(parseEventTimestamp(String(ms))).toBe(ms);
  });

  it("refuses seconds, impossible dates and free text", () => {
    expect(parseEventTimestamp(1_717_313_415)).toBeNull();
    expect(parseEventTimestamp("2024-02-30")).toBeNull();
    expect(parseEventTimestamp("2024-01-01T25:00:00Z")).toBeNull();
    expect(parseEventTimestamp("yesterday")).toBeNull();
  });
});

describe("spines", () => {
  it("CSV: header first, cells kept as text, context decoded", () => {
    const spine = parseSpineCsv('user_id,event_timestamp,timezone_offset_minutes,label\nuser_1,2024-06-02T07:30:00Z,120,"a,b"\n');
    expect(spine.columns).toEqual(["user_id", "event_timestamp", "timezone_offset_minutes", "label"]);
    expect(spine.rows[0]!.ts).toBe(Date.UTC(2024, 5, 2, 7, 30));
    expect(spine.rows[0]!.cells).toEqual({
      user_id: "user_1",
      event_timestamp: "2024-06-02T07:30:00Z",
      timezone_offset_minutes: "120",
      label: "a,b",
    });
    expect(rowContext(spine, spine.rows[0]!)).toMatchObject({ timezone_offset_minutes: 120, label: "a,b" });
  });

  it("CSV errors name the records and say what is wrong", () => {
    expect(messageOf(() => parseSpineCsv("user_id,ts\nuser_1,1\n"))).toBe(
      "The spine CSV has no event_timestamp column (header: user_id, ts)",
    );
    expect(messageOf(() => parseSpineCsv("user_id,event_timestamp\nuser_1\n"))).toBe(
      "Invalid spine CSV: record 2 has 1 fields, the header 2",
    );
    expect(messageOf(() => parseSpineCsv("user_id,event_timestamp\nuser_1,1717313415\nuser_2,\nuser_3,soon\n"))).toBe(
      'Invalid spine rows: CSV record 2: event_timestamp 1717313415 looks like epoch seconds; epoch milliseconds are expected; CSV record 3: event_timestamp is missing; CSV record 4: event_timestamp "soon" is neither ISO 8601 nor epoch milliseconds',
    );
    expect(messageOf(() => parseSpineCsv("a,a,event_timestamp\n"))).toBe('The spine CSV header names column "a" twice');
  });

  it("JSONL: one object per line, typed values kept, errors name the line", () => {
    const spine = parseSpineJsonl(
      '{"entity_id":"user_1","event_timestamp":1717313400000,"clicked":true}\n\n{"entity_id":"track_2","event_timestamp":"2024-06-02T07:30:00Z"}\n',
    );
    expect(spine.columns).toEqual(["entity_id", "event_timestamp", "clicked"]);
    expect(spine.rows.map((r) => r.ts)).toEqual([1717313400000, Date.UTC(2024, 5, 2, 7, 30)]);
    expect(rowContext(spine, spine.rows[0]!)).toEqual({ entity_id: "user_1", event_timestamp: 1717313400000, clicked: true });
    expect(messageOf(() => parseSpineJsonl('{"event_timestamp":1717313400000}\n[1]\n{oops\n'))).toMatch(
      /^Invalid spine JSONL: line 2: expected a JSON object; line 3: /,
    );
  });
});

describe("output encoders", () => {
  const columns = ["user_id", "label", "favorite_genres", "skip_rate_7d"];
  const rows = [
    { user_id: "user_1", label: 'x,"y"', favorite_genres: ["pop", "rock"], skip_rate_7d: 0.25 },
    { user_id: "user_2", label: "", favorite_genres: null, skip_rate_7d: null },
  ];

  it("CSV: header then one record per row in column order", () => {
    expect(encodeHeader("csv", columns) + encodeRows("csv", columns, rows)).toBe(
      'user_id,label,favorite_genres,skip_rate_7d\r\nuser_1,"x,""y""","[""pop"",""rock""]",0.25\r\nuser_2,"",,\r\n',
    );
    const parsed = parseCsv(encodeHeader("csv", columns) + encodeRows("csv", columns, rows));
    expect(JSON.parse(parsed[1]![2]!)).toEqual(["pop", "rock"]);
  });

  it("JSONL: one object per line with every column, typed", () => {
    const text = encodeHeader("jsonl", columns) + encodeRows("jsonl", columns, rows);
    expect(text.split("\n")).toHaveLength(3);
    expect(
      text
        .split("\n")
        .slice(0, 2)
        .map((l) => JSON.parse(l)),
    ).toEqual(rows);
  });

  it("picks the format from the file name and refuses Parquet by name", () => {
    expect(datasetFormatOf("out/train.CSV")).toBe("csv");
    expect(datasetFormatOf("train.jsonl")).toBe("jsonl");
    expect(messageOf(() => datasetFormatOf("train.parquet"))).toMatch(
      /Parquet is not supported \(no maintained Parquet writer is installed\)/,
    );
    expect(messageOf(() => datasetFormatOf("train.xlsx"))).toMatch(/unknown format/);
  });
});
