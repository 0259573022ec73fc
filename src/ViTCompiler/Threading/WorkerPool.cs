using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace ViTCompiler.Infrastructure;

/// <summary>
/// A fork-join pool for the kernels: the caller hands out <c>tasks</c> numbered work items, works on them itself
/// together with up to <c>threads − 1</c> resident workers, and returns when all are done. Dispatch costs a counter
/// increment and, only for workers that went to sleep, one monitor pulse — not a delegate, a closure or a Task — so a
/// forward pass allocates nothing and small products are still worth splitting.
/// </summary>
/// <remarks>
/// Workers spin for a short while after each job (the next GEMM usually follows within microseconds), then sleep.
/// Which thread runs which item is not fixed, so items must write disjoint outputs; the kernels make sure of that,
/// which keeps results bit-identical whatever the thread count.
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed unsafe class WorkerPool
{
    /// <summary>The process-wide pool, sized to the processor count (or the VIT_THREADS environment variable).</summary>
    public static WorkerPool Shared { get; } = new(DefaultThreads);

    /// <summary>VIT_THREADS if set to a positive number, else <see cref="Environment.ProcessorCount"/>.</summary>
    public static int DefaultThreads =>
        int.TryParse(Environment.GetEnvironmentVariable("VIT_THREADS"), out int n) && n > 0 ? n : Environment.ProcessorCount;

    private const int SpinIterations = 20_000;

    private readonly object _sleep = new();
    private int _sleepers;
    private int _generation;

    // The current job. Written by the dispatching thread before _generation is bumped; read by workers after.
    private delegate*<void*, int, int, void> _function;
    private void* _context;
    private int _taskCount;
    private int _nextTask;
    private int _participants; // workers (not counting the caller) allowed to join this job
    private int _running;      // workers that joined and have not finished
    private readonly object _dispatch = new();

    private WorkerPool(int threads)
    {
        MaxThreads = Math.Max(1, threads);
        for (int i = 1; i < MaxThreads; i++)
        {
            var thread = new Thread(WorkerLoop) { IsBackground = true, Name = $"vit-worker-{i}" };
            thread.Start(i);
        }
    }

    /// <summary>Threads available: the caller plus the resident workers.</summary>
    public int MaxThreads { get; }

    /// <summary>
    /// Runs <paramref name="function"/>(<paramref name="context"/>, item, worker) for every item in [0, <paramref name="tasks"/>)
    /// on at most <paramref name="threads"/> threads. <c>worker</c> is in [0, threads) and unique among the threads running
    /// at once, so it can index per-thread scratch memory. The context must stay alive until this returns (a pointer
    /// to a local is fine).
    /// </summary>
    public void Run(int tasks, int threads, delegate*<void*, int, int, void> function, void* context)
    {
        if (tasks <= 0) return;
        threads = Math.Min(Math.Min(threads, MaxThreads), tasks);
        if (threads <= 1)
        {
            for (int t = 0; t < tasks; t++) function(context, t, 0);
            return;
        }
        // One job at a time: two models running on two caller threads take turns rather than mixing items.
        lock (_dispatch)
        {
            _function = function;
            _context = context;
            _taskCount = tasks;
            _nextTask = 0;
            Volatile.Write(ref _participants, threads - 1); // _running is zero here: every joiner has left
            Interlocked.Increment(ref _generation); // full fence: the job is visible before the new generation
            if (Volatile.Read(ref _sleepers) > 0)
                lock (_sleep) Monitor.PulseAll(_sleep);

            Work(0);

            // Wait for the workers that joined; those that did not join in time find no items left.
            Interlocked.Exchange(ref _participants, 0);
            var spin = new SpinWait();
            while (Volatile.Read(ref _running) != 0) spin.SpinOnce(-1);
        }
    }

    private struct RangeJob
    {
        public delegate*<void*, int, int, void> Function;
        public void* Context;
        public int Count, Chunks;
    }

    /// <summary>
    /// Splits [0, <paramref name="count"/>) into contiguous ranges of at least <paramref name="minChunk"/> (about three
    /// per thread, for balance) and runs <paramref name="function"/>(context, start, end) on each.
    /// </summary>
    public void RunRanges(int count, int threads, int minChunk, delegate*<void*, int, int, void> function, void* context)
    {
        if (count <= 0) return;
        int chunks = Math.Clamp(count / Math.Max(1, minChunk), 1, 3 * Math.Max(1, threads));
        if (chunks == 1 || threads <= 1)
        {
            function(context, 0, count);
            return;
        }
        var job = new RangeJob { Function = function, Context = context, Count = count, Chunks = chunks };
        Run(chunks, threads, &RunRange, &job);
    }

    private static void RunRange(void* context, int chunk, int worker)
    {
        RangeJob* job = (RangeJob*)context;
        job->Function(job->Context, PartStart(job->Count, job->Chunks, chunk), PartStart(job->Count, job->Chunks, chunk + 1));
    }

    /// <summary>
    /// Where part <paramref name="part"/> starts when <paramref name="count"/> items are cut into <paramref name="parts"/>
    /// contiguous parts of ⌊count / parts⌋ or one more, in order (part <paramref name="parts"/> "starts" at the end).
    /// </summary>
    internal static int PartStart(int count, int parts, int part) => (int)((long)count * part / parts);

    private void Work(int worker)
    {
        delegate*<void*, int, int, void> function = _function;
        void* context = _context;
        int count = _taskCount;
        int t;
        while ((t = Interlocked.Increment(ref _nextTask) - 1) < count)
            function(context, t, worker);
    }

    private void WorkerLoop(object? state)
    {
        int worker = (int)state!;
        int seen = Volatile.Read(ref _generation);
        while (true)
        {
            int spins = 0;
            while (Volatile.Read(ref _generation) == seen && spins++ < SpinIterations) Thread.SpinWait(20);
            if (Volatile.Read(ref _generation) == seen)
            {
                lock (_sleep)
                {
                    Interlocked.Increment(ref _sleepers); // full fence before re-reading the generation
                    while (Volatile.Read(ref _generation) == seen) Monitor.Wait(_sleep);
                    Interlocked.Decrement(ref _sleepers);
                }
            }
            seen = Volatile.Read(ref _generation);
            int id = TryJoin();
            if (id > 0)
            {
                Work(id);
                Interlocked.Decrement(ref _running);
            }
        }
    }

    // Joins the current job if a place is left and returns the worker number (1 … threads−1), unique within the job;
    // returns 0 when there is no place. The worker counts itself running before it takes a place, so the dispatcher,
    // which closes the places and then waits for the count to drop to zero, never returns while a joined worker runs.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int TryJoin()
    {
        Interlocked.Increment(ref _running);
        while (true)
        {
            int places = Volatile.Read(ref _participants);
            if (places <= 0)
            {
                Interlocked.Decrement(ref _running);
                return 0;
            }
            if (Interlocked.CompareExchange(ref _participants, places - 1, places) == places)
                return places;
        }
    }
}
