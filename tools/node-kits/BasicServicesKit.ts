// Node stand-in for @kit.BasicServicesKit: only the error shape that kit APIs reject with.
export class BusinessError<T = void> extends Error {
  code: number;
  data?: T;

  constructor(code: number, message: string, data?: T) {
    super(message);
    this.name = 'BusinessError';
    this.code = code;
    this.data = data;
  }
}

export type AsyncCallback<T> = (err: BusinessError | null, data?: T) => void;
