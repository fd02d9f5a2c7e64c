// The console's entry: finish a sign-in if the browser is returning from one, make sure a user is
// signed in (or send them to the sign-in pages), then render the page for the current path.
import { render } from 'preact'
import { api } from './api.ts'
import { completeSignIn, isSignedIn, signIn, SignInError } from './auth.ts'
import { App } from './app.tsx'
import { SessionContext, type Me } from './session.ts'
import './styles.css'

const root = document.getElementById('app') as HTMLElement

function fatal(message: string, retry: boolean) {
  root.textContent = ''
  render(
    <main class="signin-error">
      <h1>Vigil console</h1>
      <p role="alert">{message}</p>
      {retry && (
        <button type="button" onClick={() => void signIn('/console/')}>
          Sign in again
        </button>
      )}
    </main>,
    root,
  )
}

async function start() {
  try {
    const returnTo = await completeSignIn()
    if (returnTo) window.history.replaceState(null, '', returnTo)
  } catch (err) {
    fatal(
      err instanceof SignInError
        ? `${err.message} Sign in again to continue.`
        : 'Sign-in did not complete. Sign in again to continue.',
      true,
    )
    return
  }
  if (!isSignedIn()) {
    await signIn()
    return
  }
  const me = await api.get<Me>('/me')
  root.textContent = ''
  render(
    <SessionContext.Provider value={{ me }}>
      <App />
    </SessionContext.Provider>,
    root,
  )
}

start().catch(() => fatal('The console could not start. Check your connection and reload the page.', true))
