export function MyConsents() {
  return (
    <section class="card">
      <h1>Sharing</h1>
    </section>
  )
}
