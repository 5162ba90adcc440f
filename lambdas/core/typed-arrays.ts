type GrowableArray = Uint8Array | Int32Array | Float64Array;

/** A copy of `array` with room for at least `needed` elements: twice the length, or more if that is short. */
export function grown<T extends GrowableArray>(array: T, needed: number): T {
  const larger = new (array.constructor as new (length: number) => T)(Math.max(needed, array.length * 2));
  larger.set(array);
  return larger;
}
