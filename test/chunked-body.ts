// A request body of a given size sent as a stream: the runtime sends it chunked, so no Content-Length reaches the Worker.

/** A JSON array of at least `bytes` bytes (copies of `item`), streamed chunk by chunk. */
export function chunkedJsonArray(
  bytes: number,
  item: unknown = { entity_id: "user_1", feature_names: ["listening_hours_weekly"] },
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const chunk = encoder.encode(`${JSON.stringify(item)},`.repeat(Math.max(1, Math.floor(64_000 / (JSON.stringify(item).length + 1)))));
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent === 0) controller.enqueue(encoder.encode("["));
      if (sent >= bytes) {
        controller.enqueue(encoder.encode(`${JSON.stringify(item)}]`));
        controller.close();
        return;
      }
      controller.enqueue(chunk);
      sent += chunk.byteLength;
    },
  });
}

/** RequestInit for a streamed POST (fetch needs `duplex: "half"` for a stream body). */
export function chunkedPost(body: ReadableStream<Uint8Array>, headers: Record<string, string>): RequestInit {
  return { method: "POST", headers, body, duplex: "half" } as RequestInit;
}
