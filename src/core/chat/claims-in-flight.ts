/**
 * Claims of reply jobs (handoff, sweep, take-in, start) whose jobs are not on their threads'
 * answer queues yet. Between a claim's commit and its queueing lie a few reads, and in that gap
 * intake may create the thread's next job already owned by this replica (its turn looked free:
 * every earlier job is this replica's), which goes straight onto the answer queue and would be
 * answered before the job just claimed. Intake waits for the claims in flight first, so a
 * thread's answers keep the order of its jobs.
 */
export class ClaimsInFlight {
  private readonly inFlight = new Set<Promise<void>>();

  /**
   * Runs a claim: `work` gets `queued`, which it (or the takeover it starts) must call once the
   * claimed jobs are on their queues, or there were none. A claim that fails counts as queued.
   */
  run<T>(work: (queued: () => void) => Promise<T>): Promise<T> {
    let done!: () => void;
    const queued = new Promise<void>((resolve) => (done = resolve));
    this.inFlight.add(queued);
    void queued.then(() => this.inFlight.delete(queued));
    const result = work(done);
    result.catch(done);
    return result;
  }

  /** Resolves once every claim started before the call has queued its jobs: true when it had to wait for one. */
  async settled(): Promise<boolean> {
    if (this.inFlight.size === 0) return false;
    await Promise.all([...this.inFlight]);
    return true;
  }
}
