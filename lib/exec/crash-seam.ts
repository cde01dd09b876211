// TEST SEAM, read only by the executor: makes the process kill itself with SIGKILL at a
// chosen point so specs can prove that a rerun converges (ARCHITECTURE.md section 4, invariant 1).
//   NULLSPACE_TEST_CRASH_AT_STEP=N     before the Nth step boundary (1 = before the first step;
//                                      steps+1 = after the last step, before the journal is closed)
//   NULLSPACE_TEST_CRASH_AFTER_BYTES=N once more than N artifact bytes were written in this run
// Never set these on a real host.

const atStep = Number(process.env.NULLSPACE_TEST_CRASH_AT_STEP ?? NaN)
const afterBytes = Number(process.env.NULLSPACE_TEST_CRASH_AFTER_BYTES ?? NaN)
let written = 0

const die = (): never => {
  process.kill(process.pid, 'SIGKILL')
  // SIGKILL is delivered before this line runs; the loop only satisfies the type checker.
  for (;;);
}

export function crashAtBoundary(n: number): void {
  if (n === atStep) die()
}

export function crashAfterBytes(n: number): void {
  written += n
  if (written > afterBytes) die()
}
