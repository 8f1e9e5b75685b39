// Express 4 is installed under an alias to test both majors; its API is the same shape.
declare module 'express4' {
  import express from 'express';
  export default express;
}
