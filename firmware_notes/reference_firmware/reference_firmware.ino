// balance_mon reference sensor firmware, protocol v1 (see ../reference_sensor.md).
//
// Board:   Seeed Studio XIAO nRF52840 Sense (LSM6DS3TR-C IMU on the internal I2C bus, 0x6A)
// Core:    "Seeed nRF52 Boards" (the non-mbed core, which bundles Adafruit's Bluefruit library)
// Library: "Seeed Arduino LSM6DS3"
//
// NOT COMPILED OR RUN: written without the toolchain or the board at hand. The API
// calls follow Adafruit Bluefruit nRF52 and Seeed_Arduino_LSM6DS3 as published; check
// every item marked VERIFY on real hardware before relying on it. README.md has the
// build commands and a bring-up checklist.
//
// What it does: advertises the reference service; on a configuration write
// (01 03 ... = streaming on) it polls the IMU's data-ready flag, stamps every sample
// with micros(), batches N samples and notifies one packet with version, flags,
// sequence number, first-sample time, count, config byte, int16 samples and CRC-16.

#include <bluefruit.h>
#include <Wire.h>
#include "LSM6DS3.h"

// ---------------------------------------------------------------- protocol constants
static const uint8_t PROTOCOL_VERSION = 1;
static const uint8_t FLAG_GYRO = 0x01;
static const uint8_t FLAG_OVERFLOW = 0x02;
static const uint8_t HEADER_BYTES = 10;
static const uint8_t CRC_BYTES = 2;
static const uint16_t MAX_PAYLOAD = 244;       // ATT MTU 247 - 3
static const uint8_t MAX_SAMPLES_GYRO = 19;    // (244 - 12) / 12
static const uint8_t MAX_SAMPLES_ACC = 38;     // (244 - 12) / 6
static const uint8_t DEFAULT_BATCH = 10;

// Rate code -> value for the library's settings.*SampleRate (13 selects the 12.5 Hz ODR)
static const uint16_t RATE_SETTING[6] = {13, 26, 52, 104, 208, 416};
static const float RATE_HZ[6] = {12.5f, 26.0f, 52.0f, 104.0f, 208.0f, 416.0f};
static const uint16_t ACC_RANGE_SETTING[4] = {2, 4, 8, 16};
static const uint16_t GYR_RANGE_SETTING[4] = {245, 500, 1000, 2000};  // code 0 = "+/-250"

// 128-bit UUIDs, least significant byte first as Bluefruit expects.
// 0ff00001-d764-4aa2-a34d-0c598f475247 and ...0002, ...0003
static const uint8_t UUID_SERVICE[16] = {0x47, 0x52, 0x47, 0x8f, 0x59, 0x0c, 0x4d, 0xa3,
                                         0xa2, 0x4a, 0x64, 0xd7, 0x01, 0x00, 0xf0, 0x0f};
static const uint8_t UUID_DATA[16] = {0x47, 0x52, 0x47, 0x8f, 0x59, 0x0c, 0x4d, 0xa3,
                                      0xa2, 0x4a, 0x64, 0xd7, 0x02, 0x00, 0xf0, 0x0f};
static const uint8_t UUID_CONFIG[16] = {0x47, 0x52, 0x47, 0x8f, 0x59, 0x0c, 0x4d, 0xa3,
                                        0xa2, 0x4a, 0x64, 0xd7, 0x03, 0x00, 0xf0, 0x0f};

// ---------------------------------------------------------------- state
struct Config {
  bool streaming;
  bool gyro;
  uint8_t rate;      // 0..5
  uint8_t accRange;  // 0..3
  uint8_t gyrRange;  // 0..3
  uint8_t batch;     // 0 = default
};

static Config cfg = {false, true, 3, 2, 3, 0};
static volatile bool cfgPending = false;
static uint8_t cfgIncoming[6];

BLEService refService(UUID_SERVICE);
BLECharacteristic dataChar(UUID_DATA);
BLECharacteristic cfgChar(UUID_CONFIG);
BLEDis bledis;
BLEBas blebas;

LSM6DS3 imu(I2C_MODE, 0x6A);

static uint8_t packet[MAX_PAYLOAD];
static uint8_t nInPacket = 0;
static uint8_t batchSize = DEFAULT_BATCH;
static uint16_t seq = 0;
static bool overflowSinceLastPacket = false;
static uint32_t lastSampleUs = 0;
static uint16_t mtu = 23;
static uint32_t lastBatteryMs = 0;

// ---------------------------------------------------------------- helpers
static uint16_t crc16Ccitt(const uint8_t *data, uint16_t len) {
  uint16_t crc = 0xFFFF;  // CRC-16/CCITT-FALSE: poly 0x1021, no reflection, no final xor
  for (uint16_t i = 0; i < len; i++) {
    crc ^= (uint16_t)data[i] << 8;
    for (uint8_t b = 0; b < 8; b++) {
      crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
  }
  return crc;
}

static void putU16(uint8_t *p, uint16_t v) { p[0] = v & 0xFF; p[1] = v >> 8; }
static void putU32(uint8_t *p, uint32_t v) {
  p[0] = v & 0xFF; p[1] = (v >> 8) & 0xFF; p[2] = (v >> 16) & 0xFF; p[3] = v >> 24;
}

static void configBytes(uint8_t out[6]) {
  out[0] = PROTOCOL_VERSION;
  out[1] = (cfg.streaming ? 1 : 0) | (cfg.gyro ? 2 : 0);
  out[2] = cfg.rate;
  out[3] = cfg.accRange;
  out[4] = cfg.gyrRange;
  out[5] = cfg.batch;
}

static uint8_t sampleBytes() { return cfg.gyro ? 12 : 6; }

// Samples per packet for the configured batch and the negotiated MTU.
static uint8_t effectiveBatch() {
  uint16_t payload = (mtu > 3) ? (uint16_t)(mtu - 3) : 20;
  if (payload > MAX_PAYLOAD) payload = MAX_PAYLOAD;
  uint8_t fit = (payload > HEADER_BYTES + CRC_BYTES)
                    ? (uint8_t)((payload - HEADER_BYTES - CRC_BYTES) / sampleBytes())
                    : 0;
  uint8_t want = cfg.batch ? cfg.batch : DEFAULT_BATCH;
  if (want > fit) want = fit;
  return want;  // 0 means "does not fit": see startImu()
}

static bool startImu() {
  imu.settings.gyroEnabled = cfg.gyro ? 1 : 0;
  imu.settings.gyroRange = GYR_RANGE_SETTING[cfg.gyrRange];
  imu.settings.gyroSampleRate = RATE_SETTING[cfg.rate];
  imu.settings.accelEnabled = 1;
  imu.settings.accelRange = ACC_RANGE_SETTING[cfg.accRange];
  imu.settings.accelSampleRate = RATE_SETTING[cfg.rate];
  // VERIFY: the library's bandwidth field maps to different bits on the TR-C variant;
  // 100 Hz keeps the anti-alias filter below Nyquist for rates >= 208 Hz only.
  imu.settings.accelBandWidth = (cfg.rate >= 4) ? 100 : 50;
  imu.settings.tempEnabled = 0;
  imu.settings.fifoModeWord = 0;  // bypass: we poll the output registers
  if (imu.begin() != 0) return false;
  batchSize = effectiveBatch();
  if (batchSize == 0 && cfg.gyro) {
    // Default 23-byte MTU: one accelerometer-only sample per packet is all that fits.
    cfg.gyro = false;
    imu.settings.gyroEnabled = 0;
    imu.begin();
    batchSize = effectiveBatch();
  }
  nInPacket = 0;
  lastSampleUs = 0;
  return batchSize > 0;
}

static bool validConfig(const uint8_t *b, uint16_t len) {
  if (len != 6 || b[0] != PROTOCOL_VERSION || (b[1] & ~0x03)) return false;
  if (b[2] > 5 || b[3] > 3 || b[4] > 3) return false;
  uint8_t most = (b[1] & 2) ? MAX_SAMPLES_GYRO : MAX_SAMPLES_ACC;
  return b[5] <= most;
}

// ---------------------------------------------------------------- BLE callbacks
// Runs in the SoftDevice event task: copy and defer the work to loop().
static void cfgWriteCallback(uint16_t connHdl, BLECharacteristic *chr, uint8_t *data, uint16_t len) {
  (void)connHdl; (void)chr;
  if (len == sizeof(cfgIncoming)) {
    memcpy(cfgIncoming, data, len);
    cfgPending = true;
  }
}

static void connectCallback(uint16_t connHdl) {
  BLEConnection *conn = Bluefruit.Connection(connHdl);
  conn->requestPHY();                // 2M PHY if the central agrees
  conn->requestDataLengthUpdate();   // 251-byte link-layer packets
  conn->requestMtuExchange(247);
  delay(500);                        // VERIFY: give the exchanges time before reading the MTU
  mtu = conn->getMtu();
}

static void disconnectCallback(uint16_t connHdl, uint8_t reason) {
  (void)connHdl; (void)reason;
  cfg.streaming = false;  // a new connection must ask for data again
  nInPacket = 0;
  mtu = 23;
}

// ---------------------------------------------------------------- battery
static void updateBattery() {
  // XIAO nRF52840: battery divider 1 M / 510 k on P0.31 (PIN_VBAT), enabled by driving
  // P0.14 (VBAT_ENABLE) LOW. Keep it LOW: left HIGH, the ADC pin sees the full battery
  // voltage. VERIFY the pin names in your core version and the divider on your board.
#if defined(PIN_VBAT) && defined(VBAT_ENABLE)
  analogReference(AR_INTERNAL_3_0);
  analogReadResolution(12);
  uint32_t raw = analogRead(PIN_VBAT);
  float vbat = raw * 3.0f / 4095.0f * (1510.0f / 510.0f);
  int pct = (int)((vbat - 3.3f) / (4.2f - 3.3f) * 100.0f);  // crude linear LiPo estimate
  if (pct < 0) pct = 0;
  if (pct > 100) pct = 100;
  blebas.notify((uint8_t)pct);
#endif
}

// ---------------------------------------------------------------- setup / loop
void setup() {
#if defined(VBAT_ENABLE)
  pinMode(VBAT_ENABLE, OUTPUT);
  digitalWrite(VBAT_ENABLE, LOW);
#endif
#if defined(PIN_LSM6DS3TR_C_POWER)
  pinMode(PIN_LSM6DS3TR_C_POWER, OUTPUT);  // VERIFY: some core versions power the IMU themselves
  digitalWrite(PIN_LSM6DS3TR_C_POWER, HIGH);
  delay(10);
#endif

  Bluefruit.configPrphBandwidth(BANDWIDTH_MAX);  // MTU 247, long connection events
  Bluefruit.begin();
  Bluefruit.setTxPower(4);
  char name[20];
  uint8_t mac[6];
  Bluefruit.getAddr(mac);
  snprintf(name, sizeof(name), "BalanceRef-%02X%02X", mac[1], mac[0]);
  Bluefruit.setName(name);
  Bluefruit.Periph.setConnectCallback(connectCallback);
  Bluefruit.Periph.setDisconnectCallback(disconnectCallback);
  Bluefruit.Periph.setConnInterval(6, 12);  // 7.5-15 ms, in 1.25 ms units; the central decides

  bledis.setManufacturer("balance_mon project");
  bledis.setModel("XIAO nRF52840 Sense reference sensor");
  bledis.setFirmwareRev("1.0.0 (protocol 1)");
  bledis.begin();
  blebas.begin();
  blebas.write(100);

  refService.begin();
  dataChar.setProperties(CHR_PROPS_NOTIFY);
  dataChar.setPermission(SECMODE_OPEN, SECMODE_NO_ACCESS);
  dataChar.setMaxLen(MAX_PAYLOAD);
  dataChar.begin();

  cfgChar.setProperties(CHR_PROPS_READ | CHR_PROPS_WRITE);
  cfgChar.setPermission(SECMODE_OPEN, SECMODE_OPEN);
  cfgChar.setFixedLen(6);
  cfgChar.setWriteCallback(cfgWriteCallback);
  cfgChar.begin();
  uint8_t cb[6];
  configBytes(cb);
  cfgChar.write(cb, sizeof(cb));

  startImu();

  Bluefruit.Advertising.addFlags(BLE_GAP_ADV_FLAGS_LE_ONLY_GENERAL_DISC_MODE);
  Bluefruit.Advertising.addTxPower();
  Bluefruit.Advertising.addService(refService);
  Bluefruit.ScanResponse.addName();
  Bluefruit.Advertising.restartOnDisconnect(true);
  Bluefruit.Advertising.setInterval(32, 244);  // 20 ms fast, 152.5 ms slow (0.625 ms units)
  Bluefruit.Advertising.setFastTimeout(30);
  Bluefruit.Advertising.start(0);
}

static void applyPendingConfig() {
  uint8_t b[6];
  noInterrupts();
  memcpy(b, cfgIncoming, sizeof(b));
  cfgPending = false;
  interrupts();
  if (validConfig(b, sizeof(b))) {
    cfg.streaming = b[1] & 1;
    cfg.gyro = (b[1] & 2) != 0;
    cfg.rate = b[2];
    cfg.accRange = b[3];
    cfg.gyrRange = b[4];
    cfg.batch = b[5];
    if (!startImu()) cfg.streaming = false;
  }
  // Always publish what is in force: the host reads it back to see if the write took.
  uint8_t cb[6];
  configBytes(cb);
  cfgChar.write(cb, sizeof(cb));
}

static void sendPacket() {
  uint8_t s = sampleBytes();
  packet[0] = PROTOCOL_VERSION;
  packet[1] = (cfg.gyro ? FLAG_GYRO : 0) | (overflowSinceLastPacket ? FLAG_OVERFLOW : 0);
  putU16(&packet[2], seq);
  // bytes 4..7 (first-sample time) were written when the first sample came in
  packet[8] = nInPacket;
  packet[9] = cfg.rate | (cfg.accRange << 3) | (cfg.gyrRange << 5);
  uint16_t len = HEADER_BYTES + (uint16_t)nInPacket * s;
  putU16(&packet[len], crc16Ccitt(packet, len));
  len += CRC_BYTES;
  // notify() fails when no TX buffer frees up in time; the packet is then lost and the
  // host sees the gap in the sequence number, which is why seq advances regardless.
  dataChar.notify(packet, len);
  seq++;
  nInPacket = 0;
  overflowSinceLastPacket = false;
}

void loop() {
  if (cfgPending) applyPendingConfig();

  if (millis() - lastBatteryMs > 60000UL) {
    lastBatteryMs = millis();
    updateBattery();
  }

  if (!cfg.streaming || !Bluefruit.connected() || !dataChar.notifyEnabled()) {
    delay(5);
    return;
  }

  uint8_t status = 0;
  imu.readRegister(&status, LSM6DS3_ACC_GYRO_STATUS_REG);
  uint8_t need = cfg.gyro ? 0x03 : 0x01;  // XLDA (bit 0), GDA (bit 1)
  if ((status & need) != need) return;

  uint32_t now = micros();
  uint8_t raw[12];
  // Gyroscope OUTX_L_G (0x22) .. accelerometer OUTZ_H_XL (0x2D): 12 consecutive bytes
  imu.readRegisterRegion(raw, LSM6DS3_ACC_GYRO_OUTX_L_G, 12);

  // A data-ready flag seen later than 1.5 periods after the previous one means the
  // output register was overwritten in between: samples lost inside the device.
  uint32_t periodUs = (uint32_t)(1e6f / RATE_HZ[cfg.rate]);
  if (lastSampleUs != 0 && now - lastSampleUs > periodUs + periodUs / 2) {
    overflowSinceLastPacket = true;
  }
  lastSampleUs = now;

  uint8_t s = sampleBytes();
  if (nInPacket == 0) putU32(&packet[4], now);
  uint8_t *dst = &packet[HEADER_BYTES + (uint16_t)nInPacket * s];
  memcpy(dst, &raw[6], 6);                 // ax ay az, int16 little-endian as the IMU stores them
  if (cfg.gyro) memcpy(dst + 6, &raw[0], 6);  // gx gy gz
  nInPacket++;
  if (nInPacket >= batchSize) sendPacket();
}
