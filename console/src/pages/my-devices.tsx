export function MyDevices() {
  return (
    <section class="card">
      <h1>My devices</h1>
    </section>
  )
}
