export function AdminCareTeams() {
  return (
    <section class="card">
      <h1>Care teams</h1>
    </section>
  )
}
