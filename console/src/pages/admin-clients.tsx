export function AdminClients() {
  return (
    <section class="card">
      <h1>OAuth clients</h1>
    </section>
  )
}
