// Principal components of a sample of vectors, for the 2-D map: the two leading eigenvectors
// of the covariance matrix by power iteration with deflation (deterministic: the start vector
// is fixed), and each vector's coordinates on them.

function normalize(v: Float64Array): number {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] /= n;
  return n;
}

// (covariance - sum of lambda u u^T over `found`) times v, without forming the matrix:
// X^T (X v) / rows, X centered.
function multiply(x: Float64Array[], v: Float64Array,
  found: [number, Float64Array][]): Float64Array {
  const d = v.length;
  const out = new Float64Array(d);
  for (const row of x) {
    let dot = 0;
    for (let j = 0; j < d; j++) dot += row[j] * v[j];
    for (let j = 0; j < d; j++) out[j] += row[j] * dot;
  }
  for (let j = 0; j < d; j++) out[j] /= Math.max(x.length, 1);
  for (const [lambda, u] of found) {
    let dot = 0;
    for (let j = 0; j < d; j++) dot += u[j] * v[j];
    for (let j = 0; j < d; j++) out[j] -= lambda * u[j] * dot;
  }
  return out;
}

export function project2d(vectors: number[][], iterations = 100): [number, number][] {
  if (vectors.length === 0) return [];
  const d = vectors[0].length;
  const mean = new Float64Array(d);
  for (const v of vectors) for (let j = 0; j < d; j++) mean[j] += v[j] / vectors.length;
  const x = vectors.map((v) => Float64Array.from(v, (value, j) => value - mean[j]));
  const found: [number, Float64Array][] = [];
  for (let c = 0; c < Math.min(2, d); c++) {
    let u: Float64Array = Float64Array.from({ length: d }, (_, j) => 1 / (j + 1 + c));
    normalize(u);
    let lambda = 0;
    for (let it = 0; it < iterations; it++) {
      u = multiply(x, u, found);
      for (const [, w] of found) { // exactly orthogonal to the components found
        let dot = 0;
        for (let j = 0; j < d; j++) dot += u[j] * w[j];
        for (let j = 0; j < d; j++) u[j] -= dot * w[j];
      }
      const previous = lambda;
      lambda = normalize(u);
      if (lambda === 0 || Math.abs(lambda - previous) <= 1e-9 * lambda) break;
    }
    found.push([lambda, u]);
  }
  return x.map((row) => {
    const coords = found.map(([, u]) => row.reduce((sum, value, j) => sum + value * u[j], 0));
    return [coords[0] ?? 0, coords[1] ?? 0];
  });
}
