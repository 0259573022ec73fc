using System.Runtime.InteropServices;
using System.Text;

namespace ViTCompiler.Distributed;

/// <summary>
/// MPI's world communicator, through a small binding of Open MPI's C library (<c>libmpi.so.40</c>) made at run time:
/// nothing about MPI is loaded until <see cref="Initialize"/> (or <see cref="FromEnvironment"/> in a process an MPI
/// launcher started), so a program that trains on one process needs no MPI installed.
/// </summary>
/// <remarks>
/// <para>Why a binding of our own: MPI.NET 1.4.0 imports <c>msmpi.dll</c> and uses MS-MPI's integer handle values; on
/// Linux with Open MPI it fails with <see cref="DllNotFoundException"/>, and its handle values would not fit Open MPI
/// anyway (docs/DISTRIBUTED.md, "Binding"). This one uses the eleven functions training needs, called through function
/// pointers from <see cref="NativeLibrary"/> — the same under the JIT and NativeAOT.</para>
/// <para>Open MPI's handles (<c>MPI_COMM_WORLD</c>, <c>MPI_FLOAT</c>, <c>MPI_SUM</c>, …) are the addresses of exported
/// globals (<c>ompi_mpi_comm_world</c>, …), resolved here the same way; MPICH's are integer constants, so this binding
/// is for Open MPI's ABI (4.x and 5.x) only. Errors return codes (<c>MPI_ERRORS_RETURN</c> is set on the world
/// communicator), which become <see cref="CommunicatorException"/>s naming the call.</para>
/// <para>MPI is initialised with <c>MPI_THREAD_SERIALIZED</c>: any thread may call, one at a time (the trainer calls
/// from its training thread only; the model's worker threads never do).</para>
/// </remarks>
public sealed unsafe class MpiCommunicator : ICommunicator, IDisposable
{
    /// <summary>Environment variable: <c>1</c> starts MPI even without a launcher's variables, <c>0</c> never starts it.</summary>
    public const string EnableVariable = "VIT_MPI";

    /// <summary>Environment variable: the MPI library to load instead of <c>libmpi.so.40</c> / <c>libmpi.so</c>.</summary>
    public const string LibraryVariable = "VIT_MPI_LIBRARY";

    private const int ThreadSerialized = 2; // MPI_THREAD_SERIALIZED in Open MPI's mpi.h
    private const int MaxErrorString = 256; // MPI_MAX_ERROR_STRING (OPAL_MAX_ERROR_STRING)
    private static readonly nint s_inPlace = 1; // MPI_IN_PLACE

    private static MpiCommunicator? s_world;
    private static readonly Lock s_gate = new();

    private readonly nint _library;
    private readonly nint _world, _float, _double, _byte, _sum, _max, _min;
    private readonly delegate* unmanaged<nint, nint, int, nint, nint, nint, int> _allreduce;
    private readonly delegate* unmanaged<nint, int, nint, int, nint, int> _bcast;
    private readonly delegate* unmanaged<nint, int> _barrier;
    private readonly delegate* unmanaged<nint, int, int> _abort;
    private readonly delegate* unmanaged<int> _finalize;
    private readonly delegate* unmanaged<int, byte*, int*, int> _errorString;
    private bool _finalized;

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size { get; }

    /// <summary>The MPI library's own description (<c>MPI_Get_library_version</c>), e.g. "Open MPI v4.1.4, …".</summary>
    public string LibraryVersion { get; }

    /// <summary>The library file that was loaded.</summary>
    public string LibraryPath { get; }

    /// <summary>
    /// Whether this process was started by an MPI launcher (Open MPI's <c>mpirun</c>, or Slurm's <c>srun</c> through PMI
    /// or PMIx) — or <see cref="EnableVariable"/> says so; <c>VIT_MPI=0</c> answers false regardless.
    /// </summary>
    public static bool LaunchedByMpi
    {
        get
        {
            string? forced = Environment.GetEnvironmentVariable(EnableVariable);
            if (forced is "0") return false;
            if (forced is "1") return true;
            foreach (string name in (ReadOnlySpan<string>)["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"])
                if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name))) return true;
            return false;
        }
    }

    /// <summary>
    /// MPI's world when <see cref="LaunchedByMpi"/>, else <see cref="LocalCommunicator.Instance"/>: what a training
    /// program calls so that it runs alone or under <c>mpirun</c> unchanged.
    /// </summary>
    /// <exception cref="CommunicatorException">Launched by MPI, but the library cannot be loaded or initialised (one line saying why).</exception>
    public static ICommunicator FromEnvironment() => LaunchedByMpi ? Initialize() : LocalCommunicator.Instance;

    /// <summary>
    /// Loads the MPI library and initialises MPI (once per process; later calls return the same communicator until it is
    /// disposed, after which MPI cannot start again — an MPI rule).
    /// </summary>
    /// <param name="libraryPath">The library to load; default: <see cref="LibraryVariable"/>, else <c>libmpi.so.40</c>, else <c>libmpi.so</c>.</param>
    /// <exception cref="CommunicatorException">The library is missing or is not Open MPI's, or <c>MPI_Init_thread</c> failed.</exception>
    public static MpiCommunicator Initialize(string? libraryPath = null)
    {
        lock (s_gate)
        {
            if (s_world is { _finalized: false }) return s_world;
            if (s_world is not null) throw new CommunicatorException("MPI was finalised in this process and cannot be started again.");
            return s_world = new MpiCommunicator(libraryPath ?? Environment.GetEnvironmentVariable(LibraryVariable));
        }
    }

    private MpiCommunicator(string? libraryPath)
    {
        string[] candidates = libraryPath is { Length: > 0 } ? [libraryPath] : ["libmpi.so.40", "libmpi.so"];
        nint library = 0;
        foreach (string candidate in candidates)
            if (NativeLibrary.TryLoad(candidate, typeof(MpiCommunicator).Assembly, DllImportSearchPath.SafeDirectories | DllImportSearchPath.UseDllDirectoryForDependencies, out library)
                || NativeLibrary.TryLoad(candidate, out library))
            {
                LibraryPath = candidate;
                break;
            }
        if (library == 0)
            throw new CommunicatorException(
                $"MPI was asked for (started by an MPI launcher, or {EnableVariable}=1) but its library ({string.Join(" or ", candidates)}) cannot be loaded. " +
                $"Install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev), point {LibraryVariable} at libmpi.so, or run without mpirun.");
        _library = library;
        LibraryPath ??= candidates[0];

        // Open MPI's predefined handles are the addresses of these globals; a library without them is not Open MPI.
        _world = Export("ompi_mpi_comm_world", handle: true);
        _float = Export("ompi_mpi_float", handle: true);
        _double = Export("ompi_mpi_double", handle: true);
        _byte = Export("ompi_mpi_byte", handle: true);
        _sum = Export("ompi_mpi_op_sum", handle: true);
        _max = Export("ompi_mpi_op_max", handle: true);
        _min = Export("ompi_mpi_op_min", handle: true);
        nint errorsReturn = Export("ompi_mpi_errors_return", handle: true);

        var initialized = (delegate* unmanaged<int*, int>)Export("MPI_Initialized");
        var initThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Export("MPI_Init_thread");
        var setErrhandler = (delegate* unmanaged<nint, nint, int>)Export("MPI_Comm_set_errhandler");
        var rank = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_rank");
        var size = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_size");
        var version = (delegate* unmanaged<byte*, int*, int>)Export("MPI_Get_library_version");
        _allreduce = (delegate* unmanaged<nint, nint, int, nint, nint, nint, int>)Export("MPI_Allreduce");
        _bcast = (delegate* unmanaged<nint, int, nint, int, nint, int>)Export("MPI_Bcast");
        _barrier = (delegate* unmanaged<nint, int>)Export("MPI_Barrier");
        _abort = (delegate* unmanaged<nint, int, int>)Export("MPI_Abort");
        _finalize = (delegate* unmanaged<int>)Export("MPI_Finalize");
        _errorString = (delegate* unmanaged<int, byte*, int*, int>)Export("MPI_Error_string");

        int flag = 0, provided = 0, value = 0;
        Check(initialized(&flag), "MPI_Initialized");
        if (flag == 0)
        {
            // Until the error handler is set, a failure here aborts in MPI's own way (its message on stderr).
            int code = initThread(null, null, ThreadSerialized, &provided);
            if (code != 0) throw new CommunicatorException($"MPI_Init_thread failed with error code {code}; see MPI's message above.");
            if (provided < ThreadSerialized)
                throw new CommunicatorException($"MPI_Init_thread provided thread level {provided}; training needs MPI_THREAD_SERIALIZED ({ThreadSerialized}).");
        }
        Check(setErrhandler(_world, errorsReturn), "MPI_Comm_set_errhandler");
        Check(rank(_world, &value), "MPI_Comm_rank");
        Rank = value;
        Check(size(_world, &value), "MPI_Comm_size");
        Size = value;
        byte* text = stackalloc byte[MaxErrorString * 4];
        int length = 0;
        Check(version(text, &length), "MPI_Get_library_version");
        LibraryVersion = Encoding.UTF8.GetString(text, Math.Clamp(length, 0, MaxErrorString * 4)).Split('\n')[0].Trim('\0', ' ', ',');
    }

    private nint Export(string name, bool handle = false) =>
        NativeLibrary.TryGetExport(_library, name, out nint address) ? address
            : throw new CommunicatorException(handle
                ? $"The MPI library '{LibraryPath}' has no '{name}': it is not Open MPI (this binding uses Open MPI's ABI; MPICH is not supported). Set {LibraryVariable} to Open MPI's libmpi.so."
                : $"The MPI library '{LibraryPath}' has no function '{name}'.");

    /// <inheritdoc/>
    public void AllreduceSum(Span<float> values)
    {
        ThrowIfFinalized();
        fixed (float* p = values)
            for (int done = 0; done < values.Length; done += int.MaxValue / 4)
                Check(_allreduce(s_inPlace, (nint)(p + done), Math.Min(values.Length - done, int.MaxValue / 4), _float, _sum, _world), "MPI_Allreduce (float, sum)");
    }

    /// <inheritdoc/>
    public void Allreduce(Span<double> values, ReduceOperation operation)
    {
        ThrowIfFinalized();
        nint op = operation switch
        {
            ReduceOperation.Sum => _sum, ReduceOperation.Max => _max, ReduceOperation.Min => _min,
            _ => throw new ArgumentOutOfRangeException(nameof(operation), operation, "Not a ReduceOperation."),
        };
        fixed (double* p = values)
            Check(_allreduce(s_inPlace, (nint)p, values.Length, _double, op, _world), $"MPI_Allreduce (double, {operation.ToString().ToLowerInvariant()})");
    }

    /// <inheritdoc/>
    public void Broadcast(Span<byte> bytes, int root)
    {
        ThrowIfFinalized();
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, Size);
        fixed (byte* p = bytes)
            for (int done = 0; done < bytes.Length; done += int.MaxValue)
                Check(_bcast((nint)(p + done), Math.Min(bytes.Length - done, int.MaxValue), _byte, root, _world), "MPI_Bcast");
    }

    /// <inheritdoc/>
    public void Barrier()
    {
        ThrowIfFinalized();
        Check(_barrier(_world), "MPI_Barrier");
    }

    /// <inheritdoc/>
    public void Abort(int exitCode)
    {
        if (!_finalized) _abort(_world, exitCode);
        Environment.Exit(exitCode);
    }

    /// <summary>Finalises MPI (<c>MPI_Finalize</c>, collective: every rank must dispose). MPI cannot start again in this process.</summary>
    public void Dispose()
    {
        lock (s_gate)
        {
            if (_finalized) return;
            _finalized = true;
            Check(_finalize(), "MPI_Finalize");
        }
    }

    private void ThrowIfFinalized() => ObjectDisposedException.ThrowIf(_finalized, this);

    private void Check(int code, string call)
    {
        if (code == 0) return;
        byte* text = stackalloc byte[MaxErrorString];
        int length = 0;
        string message = _errorString is not null && _errorString(code, text, &length) == 0
            ? Encoding.UTF8.GetString(text, Math.Clamp(length, 0, MaxErrorString)) : "no description";
        throw new CommunicatorException($"{call} failed on rank {Rank} of {Size}: {message} (MPI error {code}).");
    }
}
