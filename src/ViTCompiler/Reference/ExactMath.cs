namespace ViTCompiler.Reference;

/// <summary>Double-precision special functions the reference engine needs and <see cref="Math"/> lacks.</summary>
public static class ExactMath
{
    /// <summary>
    /// The error function to about 1e-15: its Maclaurin series below |x| = 3 (the largest term there is ~170, so
    /// cancellation costs under three digits), and erfc's continued fraction above, where the series would not do.
    /// </summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        double ax = Math.Abs(x);
        if (ax < 3.0)
        {
            // erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1))
            double x2 = x * x, term = x, sum = x;
            for (int n = 1; n < 200; n++)
            {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
            }
            return 2.0 / Math.Sqrt(Math.PI) * sum;
        }
        double erfc = Erfc(ax);
        return x > 0 ? 1.0 - erfc : erfc - 1.0;
    }

    /// <summary>erfc(x) for x ≥ 3 by the continued fraction erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))).</summary>
    private static double Erfc(double x)
    {
        double f = x;
        for (int k = 120; k >= 1; k--) f = x + k / 2.0 / f;
        return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / f;
    }

    /// <summary>GELU in its exact (erf) form, x·Φ(x), as the paper's code uses.</summary>
    public static double Gelu(double x) => 0.5 * x * (1.0 + Erf(x / Math.Sqrt(2.0)));

    /// <summary>d/dx of <see cref="Gelu"/>: Φ(x) + x·φ(x).</summary>
    public static double GeluDerivative(double x) =>
        0.5 * (1.0 + Erf(x / Math.Sqrt(2.0))) + x * Math.Exp(-0.5 * x * x) / Math.Sqrt(2.0 * Math.PI);
}
