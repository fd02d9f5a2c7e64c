export function AuditSearch() {
  return (
    <section class="card">
      <h1>Audit trail</h1>
    </section>
  )
}
