// The demo module's public face: the demo world `vigil demo` seeds (organisation, staff, patients,
// devices, readings and clients), with the names a tour or a test refers to.

export * from './seed-demo.ts'
