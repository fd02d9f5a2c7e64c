export function SecurityEvents() {
  return (
    <section class="card">
      <h1>Security events</h1>
    </section>
  )
}
