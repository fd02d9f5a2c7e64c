export function AdminUsers() {
  return (
    <section class="card">
      <h1>Users</h1>
    </section>
  )
}
