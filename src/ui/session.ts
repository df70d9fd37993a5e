// The console's sign-in session: the API key in an HttpOnly, SameSite=Strict cookie (Secure outside localhost), and CSRF tokens.
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { bearerKeyHash, findApiKey, type Scope } from "../core/auth";
import { sha256Hex } from "../core/hash";
import type { ServingHonoEnv } from "../serving/context";

export const SESSION_COOKIE = "fs_console";
/** A session lasts a working day; signing in again is one paste. */
export const SESSION_MAX_AGE_S = 8 * 3600;
/** Keys are short tokens; anything longer is not one of ours and is refused before hashing. */
export const MAX_KEY_LENGTH = 256;

export interface Session {
  /** Kept server-side only: forwarded as a Bearer key to the routes the pages call, never rendered. */
  key: string;
  scopes: ReadonlySet<Scope>;
  admin: boolean;
  csrf: string;
}

/** Plain http is allowed only on the loopback (npm run dev); everywhere else the cookie is Secure. */
export function isLocalhost(url: string): boolean {
  const host = new URL(url).hostname;
  return host === "localhost" || host === "127.0.0.1" || host === "[::1]";
}

/** The key's entry in the key table, or undefined for an unknown key. */
export async function scopesOfKey(c: Context<ServingHonoEnv>, key: string): Promise<ReadonlySet<Scope> | undefined> {
  if (!key || key.length > MAX_KEY_LENGTH || /\s/.test(key)) return undefined;
  const hash = await bearerKeyHash(`Bearer ${key}`);
  return hash ? findApiKey(hash, c.get("deps").apiKeys)?.scopes : undefined;
}

/**
 * The form token of a session: a hash of the key, so it needs no server state, differs per key and
 * gives nothing of the key away. A cross-site form cannot know it (and SameSite=Strict keeps the cookie off it too).
 */
export function csrfTokenOf(key: string): Promise<string> {
  return sha256Hex(`echotune-console-csrf:${key}`);
}

/** The signed-in session of a request, or undefined (no cookie, or a key no longer in the key table). */
export async function sessionOf(c: Context<ServingHonoEnv>): Promise<Session | undefined> {
  const key = getCookie(c, SESSION_COOKIE);
  if (!key) return undefined;
  const scopes = await scopesOfKey(c, key);
  if (!scopes) return undefined;
  return { key, scopes, admin: scopes.has("admin"), csrf: await csrfTokenOf(key) };
}

export function startSession(c: Context<ServingHonoEnv>, key: string): void {
  setCookie(c, SESSION_COOKIE, key, {
    path: "/ui",
    httpOnly: true,
    secure: !isLocalhost(c.req.url),
    sameSite: "Strict",
    maxAge: SESSION_MAX_AGE_S,
  });
}

export function endSession(c: Context<ServingHonoEnv>): void {
  deleteCookie(c, SESSION_COOKIE, { path: "/ui", secure: !isLocalhost(c.req.url) });
}

/**
 * A form post is ours when the browser says so: Sec-Fetch-Site same-origin, or an Origin equal to this
 * console's (by the request URL or its Host header: a local proxy may rewrite the URL's host). A
 * cross-site or same-site post is refused; no Origin and no Sec-Fetch-Site: a non-browser client,
 * which cannot ride a browser's cookie (the CSRF token is checked as well).
 */
export function sameOrigin(c: Context<ServingHonoEnv>): boolean {
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined && site !== "same-origin" && site !== "none") return false;
  const origin = c.req.header("origin");
  if (origin === undefined || site === "same-origin") return true;
  const url = new URL(c.req.url);
  const host = c.req.header("host");
  return origin === url.origin || (host !== undefined && origin === `${url.protocol}//${host}`);
}
