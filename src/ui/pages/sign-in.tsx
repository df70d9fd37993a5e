// Sign-in: the API key, entered once; it becomes an HttpOnly cookie and is never written into a page.
export function SignInPage(props: { error?: string; next: string }) {
  return (
    <>
      <h1>Sign in</h1>
      <p>
        Paste an API key (<code>npm run dev</code> prints the dev key). It is kept in an HttpOnly, SameSite=Strict cookie for this console
        only.
      </p>
      {props.error && (
        <p class="error" role="alert">
          {props.error}
        </p>
      )}
      <form method="post" action="/ui/login" class="filters">
        <input type="hidden" name="next" value={props.next} />
        <label>
          API key
          <input type="password" name="key" autocomplete="off" required maxlength={256} />
        </label>
        <button type="submit">Sign in</button>
      </form>
    </>
  );
}
