using System;
using System.Collections;
using System.Collections.Generic;

namespace ViTCompiler.Generators.Model
{
    /// <summary>
    /// An immutable list compared by its elements, so records that hold lists keep value equality and the incremental
    /// pipeline can tell an unchanged model from a changed one.
    /// </summary>
    internal sealed class ImmutableEquatableArray<T> : IEquatable<ImmutableEquatableArray<T>>, IReadOnlyList<T>
        where T : IEquatable<T>
    {
        public static readonly ImmutableEquatableArray<T> Empty = new(Array.Empty<T>());

        private readonly T[] _items;

        public ImmutableEquatableArray(IEnumerable<T> items) => _items = new List<T>(items).ToArray();

        public T this[int index] => _items[index];
        public int Count => _items.Length;

        public bool Equals(ImmutableEquatableArray<T>? other)
        {
            if (other is null || other._items.Length != _items.Length) return false;
            for (int i = 0; i < _items.Length; i++)
                if (!_items[i].Equals(other._items[i])) return false;
            return true;
        }

        public override bool Equals(object? obj) => obj is ImmutableEquatableArray<T> other && Equals(other);

        public override int GetHashCode()
        {
            int hash = 17;
            foreach (T item in _items) hash = unchecked(hash * 31 + item.GetHashCode());
            return hash;
        }

        public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)_items).GetEnumerator();
        IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();
    }

    internal static class ImmutableEquatableArray
    {
        public static ImmutableEquatableArray<T> ToEquatable<T>(this IEnumerable<T> items) where T : IEquatable<T> => new(items);
    }
}
