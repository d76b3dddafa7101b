// Worker for bench:micro: a task that does nothing, so a pool round trip is all that is measured.
export default function noop(x) {
  return x
}
