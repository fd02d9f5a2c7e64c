// The parts the reset and change forms share: the new-password fields with the autocomplete
// tokens password managers key on (WHATWG HTML §4.10.18.7: "new-password", "current-password",
// "username"), and the password policy's reasons in words. A refused password is never echoed.

import { html, type SafeHtml } from './html.ts'

const POLICY_WORDS: Record<string, string> = {
  too_short: 'It must have at least 8 characters.',
  too_long: 'It must have at most 128 characters.',
  common: 'It is too common: it appears in lists of leaked passwords.',
  contains_email: 'It must not contain your email address.',
  repeated_character: 'It must not be a single character repeated.',
}

export const PASSWORDS_DIFFER = 'The two new passwords are not the same. Type the new password twice.'

export function errorBlock(error: string | readonly string[] | undefined): SafeHtml | string {
  if (error === undefined) return ''
  if (typeof error === 'string') return html`<p class="error" role="alert">${error}</p>`
  return html`<div class="error" role="alert"><p>That password cannot be used:</p><ul>${error.map((e) => html`<li>${e}</li>`)}</ul></div>`
}

/** The policy's reason codes as sentences, for errorBlock. */
export function policyProblems(codes: readonly string[]): string[] {
  const words = codes.map((code) => POLICY_WORDS[code] ?? 'It does not meet the password policy.')
  return [...new Set(words)]
}

/** A hidden username field: lets a password manager file the new password under the right account. */
export function usernameHint(email: string): SafeHtml {
  return html`<input id="username" type="email" autocomplete="username" value="${email}" readonly hidden>`
}

export function newPasswordFields(): SafeHtml {
  return html`<label for="new-password">New password</label>
<p id="new-password-hint" class="hint">At least 8 characters. A few unrelated words make a strong password.</p>
<input id="new-password" name="newPassword" type="password" autocomplete="new-password" minlength="8" maxlength="128" required aria-describedby="new-password-hint">
<label for="confirm-password">New password again</label>
<input id="confirm-password" name="confirmPassword" type="password" autocomplete="new-password" minlength="8" maxlength="128" required>`
}
