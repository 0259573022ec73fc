namespace ViTCompiler.Distributed;

/// <summary>
/// The ranks of a data-parallel run started with different models, data, settings or state; raised on every rank before
/// the first step. On a rank that differs from rank 0 the message names each difference; on rank 0 it says how many
/// ranks differ.
/// </summary>
public sealed class RanksDisagreeException(string message) : Exception(message);
