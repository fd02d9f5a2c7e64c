export function AdminDevices() {
  return (
    <section class="card">
      <h1>Devices</h1>
    </section>
  )
}
