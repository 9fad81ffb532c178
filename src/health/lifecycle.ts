/** Where the process is in its life: read by the probes, written only by the runtime. */
export class Lifecycle {
  started = false;
  migrated = false;
  shuttingDown = false;
}
