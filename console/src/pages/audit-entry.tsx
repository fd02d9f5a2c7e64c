export function AuditEntry({ id }: { id: string }) {
  return (
    <section class="card">
      <h1>Audit entry {id}</h1>
    </section>
  )
}
