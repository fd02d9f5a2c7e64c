export function AccessReport() {
  return (
    <section class="card">
      <h1>Who saw my data</h1>
    </section>
  )
}
